package config

import (
	"fmt"
	"net/mail"
	"net/netip"
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
	// FeedbackLoops are the receivers' feedback loops whose reports count
	// (by the DKIM signing domain of their reports); a report from anyone
	// else is kept and listed, counted for no one. None: no report counts.
	FeedbackLoops []FeedbackLoop `yaml:"feedback_loops"`
	// AuthServID, when set, is the authserv-id of the ISP's own inbound
	// MTA in front of the abuse mailbox: its Authentication-Results field
	// (the topmost only, RFC 8601) saying dkim=pass for a feedback loop's
	// domain counts as that loop's signature.
	AuthServID string `yaml:"authserv_id"`
	// Resolver is the IP:port DKIM keys are looked up at; "": the
	// system's resolver.
	Resolver string `yaml:"resolver"`
}

// FeedbackLoop is one receiver's feedback loop.
type FeedbackLoop struct {
	Domain string `yaml:"domain"` // the d= of its reports' DKIM signature
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
	for i, f := range c.FeedbackLoops {
		if d := strings.TrimSuffix(f.Domain, "."); d == "" || strings.ContainsAny(d, " \t;=@") || !strings.Contains(d, ".") {
			return bad(fmt.Sprintf("complaints.feedback_loops[%d].domain", i), "want the DKIM signing domain of the loop's reports (fbl.mailbox.example), got %q", f.Domain)
		}
	}
	if strings.ContainsAny(c.AuthServID, " \t;()\"") {
		return bad("complaints.authserv_id", "want the authserv-id of the inbound MTA's Authentication-Results (mx.isp.example), got %q", c.AuthServID)
	}
	if c.Resolver != "" {
		if _, err := netip.ParseAddrPort(c.Resolver); err != nil {
			return bad("complaints.resolver", "want IP:port, got %q", c.Resolver)
		}
	}
	if a := c.CFBLAddress; a != "" {
		if addr, err := mail.ParseAddress(a); err != nil || addr.Name != "" || addr.Address != a {
			return bad("complaints.cfbl_address", "want a bare address (fbl@isp.example), got %q", a)
		}
	}
	return nil
}
