package config

import (
	"net/mail"
	"strings"
)

// Complaints configures complaint attribution (package complaint): the
// reference stamped on accepted mail and the keys that seal it. Its limit
// is limits.default.complaints_per_day.
type Complaints struct {
	Header string   `yaml:"header"` // the reference's header field
	Keys   []string `yaml:"keys"`   // files of 32 random bytes: the first seals, all open
	// CFBLAddress, when set, is stamped as RFC 9477's CFBL-Address (with
	// the reference as CFBL-Feedback-ID): the address receivers send ARF
	// reports to. It needs a DKIM signature after outguard.
	CFBLAddress string `yaml:"cfbl_address"`
}

func (c *Complaints) setDefaults() {
	*c = Complaints{Header: "X-Outguard-Ref"}
}

func (c *Complaints) validate(cfg *Config, bad func(key, format string, args ...any) error) error {
	if cfg.Limits == nil {
		return bad("complaints", "needs the limits section: complaints are counted and kept in the limits store")
	}
	if !validHeaderName(c.Header) {
		return bad("complaints.header", "invalid header field name %q", c.Header)
	}
	if cfg.Header.Enabled && strings.EqualFold(c.Header, cfg.Header.Name) {
		return bad("complaints.header", "%q is header.name, the verdict stamp", c.Header)
	}
	if len(c.Keys) == 0 {
		return bad("complaints.keys", "names no key file (head -c 32 /dev/urandom > /etc/outguard/ref.key; chmod 0640, group outguard)")
	}
	if a := c.CFBLAddress; a != "" {
		if addr, err := mail.ParseAddress(a); err != nil || addr.Name != "" || addr.Address != a {
			return bad("complaints.cfbl_address", "want a bare address (fbl@isp.example), got %q", a)
		}
	}
	return nil
}
