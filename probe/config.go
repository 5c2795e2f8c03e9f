// Package probe finds open relays and open proxies in the ISP's customer
// ranges: every probe carries a token, and only what arrives at the canary
// (mail through a relay, or a connection through a proxy that reads the
// canary's banner) is confirmed. relayprobe is its command.
package probe

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"outguard/internal/yamlconf"
)

// DefaultPath is where relayprobe looks for its config without -config.
const DefaultPath = "/etc/outguard/relayprobe.yaml"

// Config is relayprobe's file; etc/relayprobe.example.yaml documents every
// key and its default.
type Config struct {
	Canary      CanaryConfig      `yaml:"canary"`
	Targets     []yamlconf.Prefix `yaml:"targets"`
	Exclude     []yamlconf.Prefix `yaml:"exclude"`
	Customers   string            `yaml:"customers"` // CSV file: CIDR,customer id
	Ports       Ports             `yaml:"ports"`
	Rate        float64           `yaml:"rate"` // connection attempts per second, all targets together
	Concurrency int               `yaml:"concurrency"`
	Timeouts    Timeouts          `yaml:"timeouts"`
	// A relay that defers a recipient (4xx, greylisting) is asked again
	// this much later, once.
	GreylistRetry yamlconf.Duration `yaml:"greylist_retry"`
	Health        Health            `yaml:"health"`
	HELO          string            `yaml:"helo"`
	Source        string            `yaml:"source"` // source address of every probe; "": the system's choice
	InfoURL       string            `yaml:"info_url"`
	StateDir      string            `yaml:"state_dir"`
	Progress      int               `yaml:"progress"` // a progress line every N addresses, on a terminal
	Reporter      Reporter          `yaml:"reporter"`
	Log           yamlconf.Log      `yaml:"log"`
	Alert         yamlconf.Alert    `yaml:"alert"`
	// Confirmed findings shut down (relayprobe block, and after each
	// scan); nil: none.
	Block *BlockConfig `yaml:"block"`
	// The blocklist watch (relayprobe listings); nil: none.
	Listings *ListingsConfig `yaml:"listings"`
}

// CanaryConfig is the SMTP listener the ISP controls that confirms findings.
type CanaryConfig struct {
	Listen    string            `yaml:"listen"`     // run our own during the scan; "": an external one
	Address   string            `yaml:"address"`    // host:port the scanned hosts reach it at
	Domain    string            `yaml:"domain"`     // relay tests send to TOKEN@domain; its MX is the canary
	Secret    string            `yaml:"secret"`     // an external canary's key and API bearer token, shared with it
	API       string            `yaml:"api"`        // an external canary's API, http://host:port
	APIListen string            `yaml:"api_listen"` // relayprobe canary: where it answers scanners
	Wait      yamlconf.Duration `yaml:"wait"`       // after the last probe, for relayed mail to arrive
}

// Timeouts bound every step: a tarpit ends in bounded time.
type Timeouts struct {
	Connect yamlconf.Duration `yaml:"connect"`
	Reply   yamlconf.Duration `yaml:"reply"` // a banner, a reply, a proxy's answer
	// One connection, all its steps together (connect, every reply,
	// header lines, prompts).
	Connection yamlconf.Duration `yaml:"connection"`
	Scan       yamlconf.Duration `yaml:"scan"` // the whole scan; 0: none
}

// Health is when a scan is unhealthy: its silence then says nothing, and
// it never declares anything fixed.
type Health struct {
	// Above this share of targets unreachable or in error (0..1), the
	// scanner's own network is suspect (lost uplink, a firewall in front
	// of it).
	MaxUnreachable float64 `yaml:"max_unreachable"`
}

// Reporter names the ISP in X-ARF reports.
type Reporter struct {
	Org     string `yaml:"org"`
	Contact string `yaml:"contact"` // an e-mail address
	Domain  string `yaml:"domain"`
}

// Default is the config of an empty file.
func Default() *Config {
	return &Config{
		Canary:      CanaryConfig{Listen: "0.0.0.0:25", Wait: yamlconf.Duration(60 * time.Second)},
		Ports:       defaultPorts(),
		Rate:        200,
		Concurrency: 256,
		Timeouts: Timeouts{Connect: yamlconf.Duration(5 * time.Second), Reply: yamlconf.Duration(15 * time.Second),
			Connection: yamlconf.Duration(2 * time.Minute), Scan: yamlconf.Duration(6 * time.Hour)},
		GreylistRetry: yamlconf.Duration(5 * time.Minute),
		Health:        Health{MaxUnreachable: 0.9},
		StateDir:      "/var/lib/relayprobe",
		Progress:      256,
		Log:           yamlconf.Log{Format: "text", Level: "info"},
		Alert:         yamlconf.Alert{Timeout: yamlconf.Duration(10 * time.Second)},
	}
}

// Load reads and checks the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse checks data as read from the file named name.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	if err := yamlconf.Decode(name, data, c, yamlconf.Hooks{}, c.validate); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate(bad func(key, format string, args ...any) error) error {
	if c.Alert.MailTo != "" || c.Alert.MailCustomer {
		return bad("alert.mail_to", "relayprobe does not mail: use command or webhook")
	}
	if err := c.Log.Validate(bad); err != nil {
		return err
	}
	if c.Canary.Address == "" {
		return bad("canary.address", "is required: where the scanned hosts reach the canary (host:port)")
	}
	if _, err := netip.ParseAddrPort(c.Canary.Address); err != nil {
		return bad("canary.address", "want an IP address and port, e.g. 192.0.2.10:25: %v", err)
	}
	if c.Canary.Domain == "" {
		return bad("canary.domain", "is required: relay tests send to TOKEN@domain, whose MX is the canary")
	}
	if c.Canary.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Canary.Listen); err != nil {
			return bad("canary.listen", "want host:port: %v", err)
		}
	} else if c.Canary.API == "" {
		return bad("canary.api", "is required with an external canary (canary.listen empty): where to ask it what arrived")
	} else if c.Canary.Secret == "" {
		return bad("canary.secret", "is required with an external canary: the key it shares with the scanners, its API's bearer token")
	}
	if c.HELO == "" {
		return bad("helo", "is required: the fixed name relayprobe greets with, in the ISP's domain")
	}
	if c.Rate <= 0 {
		return bad("rate", "must be above 0 (connection attempts per second)")
	}
	if c.Concurrency < 1 {
		return bad("concurrency", "must be at least 1")
	}
	if c.Timeouts.Connect <= 0 || c.Timeouts.Reply <= 0 || c.Timeouts.Connection <= 0 {
		return bad("timeouts", "connect, reply and connection must be above 0: a tarpit must end")
	}
	if c.Timeouts.Connection < c.Timeouts.Connect+c.Timeouts.Reply {
		return bad("timeouts.connection", "must be at least connect + reply (%v): a connection must get its greeting", time.Duration(c.Timeouts.Connect+c.Timeouts.Reply))
	}
	if c.GreylistRetry <= 0 {
		return bad("greylist_retry", "must be above 0")
	}
	if c.Timeouts.Scan > 0 && c.GreylistRetry+c.Canary.Wait >= c.Timeouts.Scan {
		return bad("greylist_retry", "%v plus canary.wait %v must fit in timeouts.scan %v", time.Duration(c.GreylistRetry), time.Duration(c.Canary.Wait), time.Duration(c.Timeouts.Scan))
	}
	if c.Health.MaxUnreachable <= 0 || c.Health.MaxUnreachable > 1 {
		return bad("health.max_unreachable", "want a share above 0, at most 1")
	}
	for _, key := range slices.Sorted(maps.Keys(c.Ports)) {
		if _, ok := families[key]; !ok {
			return bad("ports."+key, "unknown test family (want %s)", strings.Join(familyKeys(), ", "))
		}
		for _, p := range c.Ports[key] {
			if p < 1 || p > 65535 {
				return bad("ports."+key, "port %d out of range", p)
			}
		}
	}
	if c.Source != "" {
		src, err := netip.ParseAddr(c.Source)
		if err != nil {
			return bad("source", "want an IP address: %v", err)
		}
		for _, p := range c.Targets {
			if netip.Prefix(p).Addr().Unmap().Is4() != src.Unmap().Is4() {
				return bad("source", "%s cannot reach target %s: another address family; scan it with a source of its family, or none", src, netip.Prefix(p))
			}
		}
	}
	if c.Customers != "" {
		if _, err := loadCustomers(c.Customers); err != nil {
			return bad("customers", "%v", err)
		}
	}
	if c.StateDir == "" {
		return bad("state_dir", "is required: scans are kept there for diff")
	}
	if c.Block != nil {
		if err := c.Block.validate(bad); err != nil {
			return err
		}
	}
	if c.Listings != nil {
		if err := c.Listings.validate(bad); err != nil {
			return err
		}
	}
	return nil
}

// CheckHost checks what only the host can tell: that it has the source
// address and can bind it.
func (c *Config) CheckHost() error {
	if c.Block != nil && c.Block.NFTables != nil {
		if err := c.Block.NFTables.check(); err != nil {
			return err
		}
	}
	if l := c.Listings; l != nil && len(l.Accounts) > 0 {
		if _, err := exec.LookPath(l.Accounts[0]); err != nil {
			return fmt.Errorf("listings.accounts: %w", err)
		}
	}
	if c.Source == "" {
		return nil
	}
	return checkSource(netip.MustParseAddr(c.Source))
}

// Prefixes parses command-line targets: addresses or CIDR ranges, an
// IPv4-mapped one as its IPv4 range (unmapPrefix).
func Prefixes(args []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range args {
		if ip, err := netip.ParseAddr(a); err == nil {
			out = append(out, unmapPrefix(netip.PrefixFrom(ip, ip.BitLen())))
			continue
		}
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("target %q: want an address or CIDR, e.g. 192.0.2.0/24", a)
		}
		out = append(out, unmapPrefix(p.Masked()))
	}
	return out, nil
}

// prefixes are the configured ranges, an IPv4-mapped one as its IPv4
// range: scan.exclude holds for a target however either was spelled, and
// a finding is named the same in every scan (a block is lifted by a scan
// of the address in the other spelling).
func prefixes(ps []yamlconf.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = unmapPrefix(netip.Prefix(p))
	}
	return out
}
