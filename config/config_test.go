package config

import (
	"flag"
	"os"
	"outguard/internal/golden"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .err files of testdata/config/bad")

// The example states every default: parsing it must give Default() exactly.
func TestExampleStatesEveryDefault(t *testing.T) {
	c, err := Load("../etc/milterd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("example config differs from the defaults:\n got %+v\nwant %+v", c, Default())
	}
}

// Optional sections are written in the example as "#| " lines stating their
// defaults: enabled, they must give the section's defaults exactly.
func TestExampleOptionalSections(t *testing.T) {
	c := optionalExample(t)
	statesDefaults(t, "clamd", c.Clamd)
	if want := RulesOrDefault(nil); !reflect.DeepEqual(c.Rules, want) {
		t.Errorf("rules section of the example:\n got %+v\nwant %+v", c.Rules, want)
	}
	if c.Metrics == nil || c.Metrics.Listen != "127.0.0.1:9357" {
		t.Errorf("metrics section of the example: %+v", c.Metrics)
	}
	statesDefaults(t, "quarantine", c.Quarantine)
	statesDefaults(t, "limits", c.Limits, func(l *Limits) {
		l.Users = map[string]UserLimits{}
		l.Alert.Command = []string{}
	})
	statesDefaults(t, "web", c.Web, func(w *Web) { w.TrustedProxies = []Prefix{} })
}

// optionalExample is the example config with its optional ("#| ")
// sections enabled.
func optionalExample(t *testing.T) *Config {
	t.Helper()
	data, err := os.ReadFile("../etc/milterd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("example", []byte(strings.ReplaceAll(string(data), "#| ", "")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// statesDefaults fails the test unless got, section name of the optional
// example, is the section's defaults, as the parser leaves what the
// example writes empty (adjust).
func statesDefaults[S any, P interface {
	*S
	setDefaults()
}](t *testing.T, name string, got P, adjust ...func(P)) {
	t.Helper()
	want := P(new(S))
	want.setDefaults()
	for _, f := range adjust {
		f(want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s section of the example:\n got %+v\nwant %+v", name, got, want)
	}
}

// parseErrors parses each config and fails the test unless its error
// contains the text given ("": no error).
func parseErrors(t *testing.T, cases map[string]string) {
	t.Helper()
	for yaml, want := range cases {
		_, err := Parse("t.yaml", []byte(yaml))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", yaml, err, want)
		}
	}
}

// The web section's keys that go together.
func TestWebSection(t *testing.T) {
	parseErrors(t, map[string]string{
		"web: {tls: {cert: /c}}":                     "web.tls: needs both cert and key",
		"web: {trusted_proxy_header: X-Remote-User}": "web.trusted_proxy_header: needs trusted_proxies",
		"web: {trusted_proxies: [10.0.0.1]}":         "web.trusted_proxy_header: needs trusted_proxies",
		"web: {url: javascript:alert(1)}":            "web.url: want an http or https URL",
		"web: {listen: 8026}":                        "web.listen: want host:port",
		"web: {users_file: \"\"}":                    "web.users_file: must not be empty",
		"web: {url: \"https://og.isp.test\", tls: {cert: /c, key: /k}, trusted_proxy_header: X-User, trusted_proxies: [10.0.0.1]}": "",
	})
}

func TestEmptyFileIsDefaults(t *testing.T) {
	c, err := Parse("empty.yaml", nil)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("empty file: %+v, %v", c, err)
	}
}

// Each bad config fixture fails with exactly the message in its .err file.
func TestBadConfigs(t *testing.T) {
	golden.BadConfigs(t, "../testdata/config/bad/*.yaml", "milterd.yaml", func(name string, data []byte) error {
		_, err := Parse(name, data)
		return err
	}, *update)
}

func TestValues(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
listen: inet:[::1]:7357
spool: {memory_limit: 64KiB}
trusted_networks: [192.0.2.7, 2001:db8::/32]
shutdown_timeout: 2d
unauthenticated: reject
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != (Address{Network: "tcp", Addr: "[::1]:7357"}) || c.Spool.MemoryLimit != 64<<10 || c.ShutdownTimeout != Duration(48*3600e9) {
		t.Errorf("%+v", c)
	}
	if n := c.Networks(); len(n) != 2 || n[0].String() != "192.0.2.7/32" || n[1].String() != "2001:db8::/32" {
		t.Errorf("networks %v", n)
	}
	if a, err := ParseAddress("inet:::1:25"); err != nil || a.Addr != "[::1]:25" {
		t.Errorf("Postfix-style v6 address: %+v %v", a, err)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/config/bad/*.yaml")
	seeds = append(seeds, "../etc/milterd.example.yaml")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// The timeouts and the pool size go into the DSN, unless it has them.
func TestPostgresConnString(t *testing.T) {
	p := &Postgres{}
	p.setDefaults()
	for dsn, want := range map[string]string{
		"host=/run/postgresql dbname=outguard":    "host=/run/postgresql dbname=outguard connect_timeout=5 statement_timeout=10000 lock_timeout=5000 pool_max_conns=10",
		"host=db statement_timeout=1000":          "host=db statement_timeout=1000 connect_timeout=5 lock_timeout=5000 pool_max_conns=10",
		"postgres://u@db/outguard?lock_timeout=7": "postgres://u@db/outguard?connect_timeout=5&lock_timeout=7&pool_max_conns=10&statement_timeout=10000",
	} {
		p.DSN = dsn
		if got := p.ConnString(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", dsn, got, want)
		}
	}
}
