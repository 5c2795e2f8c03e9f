package yamlconf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"outguard/internal/alert"
)

// Duration is a time.Duration that also takes days ("30d").
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a duration as the config writes them.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid duration %q (examples: 30s, 5m, 24h, 30d)", s)
	}
	return v, nil
}

// Size is a byte count written as 1024, 64KiB, 10MiB or 1GiB.
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}

func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	str, mult := n.Value, int64(1)
	for _, u := range sizeUnits {
		if v, ok := strings.CutSuffix(str, u.suffix); ok {
			str, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(str, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return fmt.Errorf("invalid size %q (examples: 65536, 64KiB, 10MiB)", n.Value)
	}
	*s = Size(v * mult)
	return nil
}

// FileMode is a permission mode written in octal, "0660".
type FileMode uint32

func (m *FileMode) UnmarshalYAML(n *yaml.Node) error {
	v, err := strconv.ParseUint(n.Value, 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("invalid file mode %q (want octal, e.g. \"0660\")", n.Value)
	}
	*m = FileMode(v)
	return nil
}

// Prefix is a network in CIDR notation; a bare address is a /32 or /128.
type Prefix netip.Prefix

func (p *Prefix) UnmarshalYAML(n *yaml.Node) error {
	if a, err := netip.ParseAddr(n.Value); err == nil {
		*p = Prefix(netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	v, err := netip.ParsePrefix(n.Value)
	if err != nil {
		return fmt.Errorf("invalid network %q (want an address or CIDR, e.g. 192.0.2.0/24)", n.Value)
	}
	*p = Prefix(v.Masked())
	return nil
}

// Address is a milter or engine socket address as Postfix spells it:
// "unix:/path" or "inet:host:port".
type Address struct {
	Network string // "unix" or "tcp"
	Addr    string
}

func (a Address) String() string {
	if a.Network == "unix" {
		return "unix:" + a.Addr
	}
	return "inet:" + a.Addr
}

func (a *Address) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseAddress(n.Value)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseAddress parses "unix:/abs/path" or "inet:host:port".
func ParseAddress(s string) (Address, error) {
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "unix", "local":
		if !strings.HasPrefix(rest, "/") {
			return Address{}, fmt.Errorf("invalid address %q: unix socket path must be absolute", s)
		}
		return Address{Network: "unix", Addr: rest}, nil
	case "inet", "inet6":
		host, port, err := splitHostPort(rest)
		if err != nil {
			return Address{}, fmt.Errorf("invalid address %q: %v", s, err)
		}
		return Address{Network: "tcp", Addr: host + ":" + port}, nil
	}
	return Address{}, fmt.Errorf("invalid address %q (want unix:/path or inet:host:port)", s)
}

// splitHostPort accepts host:port, [v6]:port and Postfix's v6:addr:port.
func splitHostPort(s string) (string, string, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", fmt.Errorf("missing port")
	}
	host, port := s[:i], s[i+1:]
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", "", fmt.Errorf("invalid port %q", port)
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host, port, nil
}

// Alert is where events go (internal/alert): milterd's limits and
// relayprobe both have one.
type Alert struct {
	Command []string `yaml:"command"`
	Webhook string   `yaml:"webhook"`
	// WebhookSecretFile holds the key the webhook's posts are signed
	// with (alert.SignatureHeader); "": unsigned.
	WebhookSecretFile string   `yaml:"webhook_secret_file"`
	Timeout           Duration `yaml:"timeout"`
	// MailTo (the abuse desk) and MailCustomer (the account's own
	// address) are milterd's only: its alerts go through the limits
	// store's outbox and the quarantine's release address.
	MailTo       string `yaml:"mail_to"`
	MailCustomer bool   `yaml:"mail_customer"`
}

// Sender is the configured alert.Sender.
func (a Alert) Sender() alert.Sender {
	return alert.Sender{Command: a.Command, Webhook: a.Webhook, SecretFile: a.WebhookSecretFile, Timeout: time.Duration(a.Timeout)}
}
