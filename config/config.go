// Package config reads milterd's YAML configuration. It is strict: an
// unknown key or a bad value is an error naming the file, line and key.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"outguard/internal/yamlconf"
	"outguard/limits"
	"outguard/policy"
)

// DefaultPath is where milterd looks for its config without -config.
const DefaultPath = "/etc/outguard/milterd.yaml"

// Config is the whole file. milterd.example.yaml documents every key.
type Config struct {
	Listen           Address     `yaml:"listen"`
	SocketMode       FileMode    `yaml:"socket_mode"`
	SocketGroup      string      `yaml:"socket_group"`
	StateDir         string      `yaml:"state_dir"`
	Log              Log         `yaml:"log"`
	Header           Header      `yaml:"header"`
	Unauthenticated  Action      `yaml:"unauthenticated"`
	TrustedNetworks  []Prefix    `yaml:"trusted_networks"`
	Spool            Spool       `yaml:"spool"`
	Milter           Milter      `yaml:"milter"`
	ProgressInterval Duration    `yaml:"progress_interval"`
	MessageTimeout   Duration    `yaml:"message_timeout"`
	CommitTimeout    Duration    `yaml:"commit_timeout"` // counting and holding a message, after its checks
	ShutdownTimeout  Duration    `yaml:"shutdown_timeout"`
	Clamd            *Clamd      `yaml:"clamd"`      // nil: no clamd check
	Limits           *Limits     `yaml:"limits"`     // nil: no limits
	Quarantine       *Quarantine `yaml:"quarantine"` // nil: the MTA's hold queue
	Rules            *Rules      `yaml:"rules"`      // nil: no YARA rules
	Metrics          *Metrics    `yaml:"metrics"`    // nil: no metrics endpoint
	Postgres         *Postgres   `yaml:"postgres"`   // nil: no PostgreSQL; stores that use it say so
	Spam             *Spam       `yaml:"spam"`       // nil: no spam check
	GeoIP            *GeoIP      `yaml:"geoip"`      // nil: no countries or ASNs for limits
	Web              *Web        `yaml:"web"`        // nil: no web console
	Campaign         *Campaign   `yaml:"campaign"`   // nil: no campaigns across accounts
	Complaints       *Complaints `yaml:"complaints"` // nil: no complaint attribution
}

// Spam configures the rspamd check (package spam).
type Spam struct {
	URL     string            `yaml:"url"`
	Timeout Duration          `yaml:"timeout"`
	OnError Action            `yaml:"on_error"`
	Actions map[string]Action `yaml:"actions"` // rspamd's action -> verdict; a key left out keeps its default
}

// SpamActions are rspamd's actions and the default verdict of each.
var SpamActions = map[string]policy.Action{
	"reject": policy.Reject, "soft reject": policy.Tempfail, "rewrite subject": policy.Quarantine,
	"add header": policy.Accept, "greylist": policy.Accept, "no action": policy.Accept,
}

func (s *Spam) setDefaults() {
	*s = Spam{URL: "http://127.0.0.1:11333", Timeout: Duration(20 * time.Second), OnError: Action(policy.Tempfail), Actions: map[string]Action{}}
	for k, v := range SpamActions {
		s.Actions[k] = Action(v)
	}
}

// GeoIP names MaxMind-format databases (GeoLite2 or compatible) that give
// the countries and ASNs of login spread; each is optional.
type GeoIP struct {
	CountryDB string `yaml:"country_db"`
	ASNDB     string `yaml:"asn_db"`
}

// Postgres is the PostgreSQL every store set to "postgres" shares.
type Postgres struct {
	DSN string `yaml:"dsn"` // libpq key=value string or postgres:// URL
	// The bounds of every wait on the server, inside the milter's
	// deadlines (Postfix's milter_command_timeout is 30s). A setting in
	// the DSN itself wins.
	ConnectTimeout   Duration `yaml:"connect_timeout"`
	StatementTimeout Duration `yaml:"statement_timeout"`
	LockTimeout      Duration `yaml:"lock_timeout"`
	// MaxConns bounds each pool: milterd opens one for the limits and one
	// for the quarantine, so a host takes up to twice this many of the
	// server's max_connections (docs/postgres.md).
	MaxConns int `yaml:"max_conns"`
}

func (p *Postgres) setDefaults() {
	*p = Postgres{DSN: "host=/run/postgresql dbname=outguard user=milterd",
		ConnectTimeout: Duration(5 * time.Second), StatementTimeout: Duration(10 * time.Second), LockTimeout: Duration(5 * time.Second), MaxConns: 10}
}

// ConnString is the DSN with the timeouts and the pool size it does not
// set itself: connect_timeout (seconds), statement_timeout and
// lock_timeout (milliseconds, sent to the server at connection), and
// pool_max_conns (taken out by the pool, internal/sqldb).
func (p *Postgres) ConnString() string {
	set := map[string]string{
		"connect_timeout":   fmt.Sprint(max(1, int64(time.Duration(p.ConnectTimeout)/time.Second))),
		"statement_timeout": fmt.Sprint(time.Duration(p.StatementTimeout).Milliseconds()),
		"lock_timeout":      fmt.Sprint(time.Duration(p.LockTimeout).Milliseconds()),
		"pool_max_conns":    fmt.Sprint(p.MaxConns),
	}
	keys := []string{"connect_timeout", "statement_timeout", "lock_timeout", "pool_max_conns"}
	if u, err := url.Parse(p.DSN); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for _, k := range keys {
			if !q.Has(k) {
				q.Set(k, set[k])
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	dsn := p.DSN
	for _, k := range keys {
		if !regexp.MustCompile(`(^|\s)` + k + `\s*=`).MatchString(dsn) {
			dsn += " " + k + "=" + set[k]
		}
	}
	return dsn
}

// Metrics configures the Prometheus endpoint (/metrics, /healthz).
type Metrics struct {
	Listen string `yaml:"listen"`
	// A request must arrive within ReadTimeout, its answer leave within
	// WriteTimeout; a kept-alive connection closes after IdleTimeout.
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	IdleTimeout  Duration `yaml:"idle_timeout"`
}

func (m *Metrics) setDefaults() {
	*m = Metrics{Listen: "127.0.0.1:9357", ReadTimeout: Duration(10 * time.Second), WriteTimeout: Duration(30 * time.Second), IdleTimeout: Duration(time.Minute)}
}

// Milter bounds the MTA's connections (milter/wire.go).
type Milter struct {
	MaxConnections int      `yaml:"max_connections"`
	ReadTimeout    Duration `yaml:"read_timeout"`
	IdleTimeout    Duration `yaml:"idle_timeout"`
}

// Rules configures the YARA check.
type Rules struct {
	Dir         string   `yaml:"dir"`
	Timeout     Duration `yaml:"timeout"`
	OnError     Action   `yaml:"on_error"`
	OnLimit     Action   `yaml:"on_limit"`
	OnMalformed Action   `yaml:"on_malformed"`
	Watch       bool     `yaml:"watch"`
	MaxDepth    int      `yaml:"max_depth"`
	MaxMembers  int      `yaml:"max_members"`
	MaxTotal    Size     `yaml:"max_total"`
	MaxRatio    int      `yaml:"max_ratio"`
	MaxPart     Size     `yaml:"max_part"`

	// Content not fully checked (a limit, malformed or ambiguous MIME, an
	// archive not opened) that holds a program, a script, an OLE document
	// or an unopened archive.
	OnUncheckedRisky Action `yaml:"on_unchecked_risky"`
}

// RulesOrDefault returns a copy of r, or the defaults when r is nil.
func RulesOrDefault(r *Rules) *Rules {
	out := new(Rules)
	if r != nil {
		*out = *r
	} else {
		out.setDefaults()
	}
	return out
}

func (r *Rules) setDefaults() {
	*r = Rules{
		Dir: "/etc/outguard/rules", Timeout: Duration(10 * time.Second),
		OnError: Action(policy.Tempfail), OnLimit: Action(policy.Accept), OnMalformed: Action(policy.Accept),
		Watch: true, MaxDepth: 10, MaxMembers: 1000, MaxTotal: 200 << 20, MaxRatio: 100, MaxPart: 50 << 20,
	}
	r.OnUncheckedRisky = Action(policy.Quarantine)
}

// Quarantine configures outguard's own quarantine.
type Quarantine struct {
	// Store is "local" (files and a SQLite index in Dir) or "postgres"
	// (the top-level postgres section: one quarantine for a fleet).
	Store          string   `yaml:"store"`
	Dir            string   `yaml:"dir"` // "": state_dir/quarantine
	Retention      Duration `yaml:"retention"`
	ReleaseAddress string   `yaml:"release_address"`
	Mode           string   `yaml:"mode"`
	MaxBytes       Size     `yaml:"max_bytes"`
	MaxEntries     int      `yaml:"max_entries"`
	OnFull         Action   `yaml:"on_full"`
	DigestTo       string   `yaml:"digest_to"`   // "milterctl quarantine digest --mail" sends to it
	DigestFrom     string   `yaml:"digest_from"` // "": digest_to
	// ReleaseTimeout bounds each wait of a release for the release
	// address (connect, each reply, the reply to the final dot).
	ReleaseTimeout Duration `yaml:"release_timeout"`
}

func (q *Quarantine) setDefaults() {
	*q = Quarantine{Store: "local", Retention: Duration(30 * 24 * time.Hour), ReleaseAddress: "127.0.0.1:10026", Mode: "discard",
		MaxBytes: 10 << 30, MaxEntries: 100000, OnFull: Action(policy.Tempfail), ReleaseTimeout: Duration(time.Minute)}
}

// HostName names this smarthost in shared stores: limits.host, or the
// system's host name.
func (c *Config) HostName() string {
	if c.Limits != nil && c.Limits.Host != "" {
		return c.Limits.Host
	}
	h, _ := os.Hostname()
	return h
}

// QuarantineDir is where the local quarantine lives.
func (c *Config) QuarantineDir() string {
	if c.Quarantine.Dir != "" {
		return c.Quarantine.Dir
	}
	return filepath.Join(c.StateDir, "quarantine")
}

// Limits configures per-account limits and suspension.
type Limits struct {
	Default     LimitSet              `yaml:"default"`
	Users       map[string]UserLimits `yaml:"users"`
	OnSuspended Action                `yaml:"on_suspended"`
	SuspendFor  Duration              `yaml:"suspend_for"`
	Escalate    Escalate              `yaml:"escalate"`
	Contact     string                `yaml:"contact"`
	Alert       Alert                 `yaml:"alert"`
	Store       string                `yaml:"store"`
	Redis       Redis                 `yaml:"redis"`
	Maillog     Maillog               `yaml:"maillog"`
	OnError     Action                `yaml:"on_error"`
	// Host names this smarthost in the shared store's message records
	// ("": the host name).
	Host string `yaml:"host"`
	// LoginCase is "fold" (Alice and alice are one account) or "exact".
	LoginCase string `yaml:"login_case"`
	// TrustedKey keys mail without a login from trusted_networks: "ip",
	// "sender", or "header" (TrustedHeader, honoured from those networks
	// only and removed from anyone else's mail).
	TrustedKey    string `yaml:"trusted_key"`
	TrustedHeader string `yaml:"trusted_header"`
	// OnSuspendQueued is what becomes of a suspended account's mail still
	// in the MTA's queue: hold, delete or keep (containment/).
	OnSuspendQueued string `yaml:"on_suspend_queued"`
	MTA             MTA    `yaml:"mta"`
}

// Escalate makes the After-th automatic suspension within Within last
// until an operator lifts it (After 0: never).
type Escalate struct {
	After  int      `yaml:"after"`
	Within Duration `yaml:"within"`
}

// MTA names the MTA whose queue follows a suspension.
type MTA struct {
	Kind      string `yaml:"kind"`       // postfix or sendmail
	ConfigDir string `yaml:"config_dir"` // postfix: postsuper -c
	Config    string `yaml:"config"`     // sendmail: sendmail.cf
}

// LimitSet is a set of limits by their key (limits.Kinds); in users, a
// key left out takes the default. 0 means no limit.
type LimitSet map[string]*int

// UserLimits is a user's override: a LimitSet, or the word "unlimited".
type UserLimits struct {
	Unlimited bool
	// Address is where the account's own mail notices go
	// (limits.alert.mail_customer) when its login is not an address.
	Address  string `yaml:"address"`
	LimitSet `yaml:",inline"`
}

func (u *UserLimits) unmarshalScalar(s string) error {
	if s != "unlimited" {
		return fmt.Errorf("want a mapping of limits or \"unlimited\", got %q", s)
	}
	u.Unlimited = true
	return nil
}

type Redis struct {
	Address string `yaml:"address"`
	// Timeout bounds connecting and each command (a stopped server, a
	// lost packet); PoolSize the connections milterd keeps to it.
	Timeout  Duration `yaml:"timeout"`
	PoolSize int      `yaml:"pool_size"`
	// MaxClockSkew: a counter's slot rolls only if Redis' clock, give
	// or take this, agrees with the host's (PostgreSQL's
	// outguard.max_clock_skew); 0 turns the check off.
	MaxClockSkew Duration `yaml:"max_clock_skew"`
}

type Maillog struct {
	// Source is "file" (Path: rsyslog's file, or Postfix's maillog_file)
	// or "journal" (the systemd journal; Path: a journal directory, ""
	// the system's). Postfix and Sendmail lines are both read.
	Source string `yaml:"source"`
	Path   string `yaml:"path"`
	Start  string `yaml:"start"` // first start: "end" or "beginning"
	// Silence: mail accepted this long ago and no log line read since
	// makes the follower not ready (/readyz): the log is lost.
	Silence Duration `yaml:"silence"`
}

func (l *Limits) setDefaults() {
	def := LimitSet{}
	for _, k := range limits.Kinds {
		def[k.Key] = &k.Default
	}
	*l = Limits{
		Default:     def,
		OnSuspended: Action(policy.Tempfail),
		// A day, as EOP's BlockUserForToday; the third within 30 days
		// until lifted.
		SuspendFor: Duration(24 * time.Hour),
		Escalate:   Escalate{After: 3, Within: Duration(30 * 24 * time.Hour)},
		Alert:      Alert{Timeout: Duration(10 * time.Second)},
		Store:      "sqlite",
		Redis:      Redis{Address: "127.0.0.1:6379", Timeout: Duration(5 * time.Second), PoolSize: 10, MaxClockSkew: Duration(120 * time.Second)},
		Maillog:    Maillog{Source: "file", Start: "end", Silence: Duration(2 * time.Minute)},
		OnError:    Action(policy.Tempfail),
		LoginCase:  "fold",
		TrustedKey: "ip",
		// The queue follows the suspension by default: that queued mail
		// is what lists the ISP's ranges.
		OnSuspendQueued: "hold",
		MTA:             MTA{Kind: "postfix", ConfigDir: "/etc/postfix"},
	}
}

// Clamd configures the clamd check.
type Clamd struct {
	Addresses      []Address `yaml:"addresses"`
	MaxConnections int       `yaml:"max_connections"`
	ConnectTimeout Duration  `yaml:"connect_timeout"`
	IOTimeout      Duration  `yaml:"io_timeout"`
	ReplyTimeout   Duration  `yaml:"reply_timeout"`
	MaxStream      Size      `yaml:"max_stream"`
	OnVirus        Action    `yaml:"on_virus"`
	OnError        Action    `yaml:"on_error"`
	Oversize       Action    `yaml:"oversize"`
	FdPassing      bool      `yaml:"fd_passing"`
}

func (c *Clamd) setDefaults() {
	*c = Clamd{
		Addresses:      []Address{{Network: "unix", Addr: "/run/clamav/clamd.ctl"}},
		MaxConnections: 10,
		ConnectTimeout: Duration(5 * time.Second),
		IOTimeout:      Duration(30 * time.Second),
		ReplyTimeout:   Duration(60 * time.Second),
		MaxStream:      25 << 20,
		OnVirus:        Action(policy.Reject),
		OnError:        Action(policy.Tempfail),
		Oversize:       Action(policy.Accept),
		FdPassing:      true,
	}
}

type Header struct {
	Enabled bool   `yaml:"enabled"`
	Name    string `yaml:"name"`
	Detail  string `yaml:"detail"` // verdict or full
}

type Spool struct {
	MemoryLimit Size   `yaml:"memory_limit"`
	Dir         string `yaml:"dir"`
	MaxTotal    Size   `yaml:"max_total"` // bytes on disk for all messages at once; 0: no bound
}

// Default returns the configuration used for every key the file leaves out.
func Default() *Config {
	return &Config{
		Listen:          Address{Network: "unix", Addr: "/var/spool/postfix/outguard/milterd.sock"},
		SocketMode:      0o660,
		SocketGroup:     "postfix",
		StateDir:        "/var/lib/outguard",
		Log:             Log{Format: "text", Level: "info"},
		Header:          Header{Enabled: true, Name: "X-Outguard", Detail: "verdict"},
		Unauthenticated: Action(policy.Accept),
		TrustedNetworks: []Prefix{
			Prefix(netip.MustParsePrefix("127.0.0.0/8")),
			Prefix(netip.MustParsePrefix("::1/128")),
		},
		Spool:            Spool{MemoryLimit: 1 << 20, MaxTotal: 2 << 30},
		Milter:           Milter{MaxConnections: 1000, ReadTimeout: Duration(30 * time.Second), IdleTimeout: Duration(10 * time.Minute)},
		ProgressInterval: Duration(10 * time.Second),
		MessageTimeout:   Duration(5 * time.Minute),
		CommitTimeout:    Duration(10 * time.Second),
		ShutdownTimeout:  Duration(30 * time.Second),
	}
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates data as read from the file named name.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	if err := yamlconf.Decode(name, data, c, hooks, c.validate); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate(bad func(key, format string, args ...any) error) error {
	if err := c.Log.Validate(bad); err != nil {
		return err
	}
	if c.Header.Enabled && !validHeaderName(c.Header.Name) {
		return bad("header.name", "invalid header field name %q", c.Header.Name)
	}
	if c.Header.Detail != "verdict" && c.Header.Detail != "full" {
		return bad("header.detail", "unknown detail %q (want verdict or full)", c.Header.Detail)
	}
	switch policy.Action(c.Unauthenticated) {
	case policy.Accept, policy.Tempfail, policy.Reject:
	default:
		return bad("unauthenticated", "must be accept, tempfail or reject")
	}
	if c.StateDir == "" {
		return bad("state_dir", "must not be empty")
	}
	if c.ProgressInterval < Duration(time.Second) {
		return bad("progress_interval", "must be at least 1s")
	}
	if c.CommitTimeout < Duration(100*time.Millisecond) {
		return bad("commit_timeout", "must be at least 100ms")
	}
	if c.MessageTimeout < Duration(time.Second) {
		return bad("message_timeout", "must be at least 1s")
	}
	if cd := c.Clamd; cd != nil {
		if len(cd.Addresses) == 0 {
			return bad("clamd.addresses", "needs at least one address")
		}
		if cd.MaxConnections < 1 {
			return bad("clamd.max_connections", "must be at least 1")
		}
		for key, d := range map[string]Duration{"clamd.connect_timeout": cd.ConnectTimeout, "clamd.io_timeout": cd.IOTimeout, "clamd.reply_timeout": cd.ReplyTimeout} {
			if d <= 0 {
				return bad(key, "must be more than 0")
			}
		}
		if policy.Action(cd.OnVirus) == policy.Accept {
			return bad("clamd.on_virus", "accept would pass malware; use reject, tempfail, quarantine or discard")
		}
		if err := failureAction(bad, "clamd.on_error", cd.OnError); err != nil {
			return err
		}
	}
	if l := c.Limits; l != nil {
		if err := l.validate(c, bad); err != nil {
			return err
		}
	}
	if r := c.Rules; r != nil {
		if r.Dir == "" {
			return bad("rules.dir", "must not be empty")
		}
		if err := failureAction(bad, "rules.on_error", r.OnError); err != nil {
			return err
		}
		if policy.Action(r.OnUncheckedRisky) == policy.Accept {
			return bad("rules.on_unchecked_risky", "accept would let a program pass because a limit was hit: want quarantine, reject or tempfail")
		}
		for key, v := range map[string]int{"rules.max_depth": r.MaxDepth, "rules.max_members": r.MaxMembers, "rules.max_ratio": r.MaxRatio, "rules.max_total": int(min(r.MaxTotal, 1<<30)), "rules.max_part": int(min(r.MaxPart, 1<<30))} {
			if v < 1 {
				return bad(key, "must be at least 1")
			}
		}
		if r.Timeout <= 0 {
			return bad("rules.timeout", "must be more than 0")
		}
	}
	if w := c.Web; w != nil {
		if err := w.validate(bad); err != nil {
			return err
		}
	}
	if p := c.Postgres; p != nil {
		for key, d := range map[string]Duration{"postgres.connect_timeout": p.ConnectTimeout, "postgres.statement_timeout": p.StatementTimeout, "postgres.lock_timeout": p.LockTimeout} {
			if d < Duration(time.Millisecond) {
				return bad(key, "must be at least 1ms: a wait on the server is always bounded")
			}
		}
		if p.MaxConns < 1 {
			return bad("postgres.max_conns", "must be at least 1")
		}
	}
	if sp := c.Spam; sp != nil {
		if err := sp.validate(bad); err != nil {
			return err
		}
	}
	if err := c.validateCampaign(bad); err != nil {
		return err
	}
	if cp := c.Complaints; cp != nil {
		if err := cp.validate(c, bad); err != nil {
			return err
		}
	}
	if g := c.GeoIP; g != nil && g.CountryDB == "" && g.ASNDB == "" {
		return bad("geoip", "names no database (country_db, asn_db)")
	} else if g != nil && c.Limits == nil {
		return bad("geoip", "is used by limits (countries_per_hour, asns_per_hour) only: there is no limits section")
	}
	if m := c.Metrics; m != nil {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			return bad("metrics.listen", "want host:port: %v", err)
		}
		for key, d := range map[string]Duration{"metrics.read_timeout": m.ReadTimeout, "metrics.write_timeout": m.WriteTimeout, "metrics.idle_timeout": m.IdleTimeout} {
			if d <= 0 {
				return bad(key, "must be more than 0")
			}
		}
	}
	if c.Milter.MaxConnections < 1 {
		return bad("milter.max_connections", "must be at least 1")
	}
	for key, d := range map[string]Duration{"milter.read_timeout": c.Milter.ReadTimeout, "milter.idle_timeout": c.Milter.IdleTimeout} {
		if d < Duration(time.Second) {
			return bad(key, "must be at least 1s")
		}
	}
	if q := c.Quarantine; q != nil {
		switch q.Store {
		case "local":
		case "postgres":
			if c.Postgres == nil || c.Postgres.DSN == "" {
				return bad("quarantine.store", "postgres needs the top-level postgres section (postgres: {dsn: ...})")
			}
		default:
			return bad("quarantine.store", "unknown store %q (want local or postgres)", q.Store)
		}
		if q.Mode != "discard" && q.Mode != "discard+hold" {
			return bad("quarantine.mode", "unknown mode %q (want discard or discard+hold)", q.Mode)
		}
		if _, _, err := net.SplitHostPort(q.ReleaseAddress); err != nil {
			return bad("quarantine.release_address", "want host:port: %v", err)
		}
		if q.Retention <= 0 {
			return bad("quarantine.retention", "must be more than 0")
		}
		if q.ReleaseTimeout <= 0 || q.ReleaseTimeout > Duration(2*time.Minute) {
			// A release holds its entry for 5 minutes (its lease).
			return bad("quarantine.release_timeout", "must be more than 0 and at most 2m")
		}
		if q.MaxEntries < 0 {
			return bad("quarantine.max_entries", "must be 0 (no bound) or more")
		}
		if a := policy.Action(q.OnFull); a != policy.Tempfail && a != policy.Reject {
			return bad("quarantine.on_full", "must be tempfail or reject: anything else would deliver or lose what was to be held")
		}
	}
	return nil
}

func (l *Limits) validate(c *Config, bad func(key, format string, args ...any) error) error {
	sets := map[string]LimitSet{"limits.default": l.Default}
	for user, u := range l.Users {
		sets["limits.users."+user] = u.LimitSet
		if u.Address != "" && !limits.IsAddress(u.Address) {
			return bad("limits.users."+user+".address", "want one address, local@domain (got %q)", u.Address)
		}
	}
	for prefix, set := range sets {
		for key := range set {
			if !slices.ContainsFunc(limits.Kinds, func(k limits.Kind) bool { return k.Key == key }) {
				return bad(prefix+"."+key, "unknown key")
			}
		}
		for _, k := range limits.Kinds {
			v := set[k.Key]
			if v == nil && prefix == "limits.default" {
				return bad(prefix+"."+k.Key, "must not be empty")
			}
			if v != nil && *v < 0 {
				return bad(prefix+"."+k.Key, "must be 0 (no limit) or more")
			}
		}
	}
	switch policy.Action(l.OnSuspended) {
	case policy.Tempfail, policy.Reject, policy.Quarantine:
	default:
		return bad("limits.on_suspended", "must be tempfail, reject or quarantine")
	}
	if err := failureAction(bad, "limits.on_error", l.OnError); err != nil {
		return err
	}
	switch l.Store {
	case "sqlite":
	case "redis":
		if l.Redis.Address == "" {
			return bad("limits.redis.address", "must not be empty with store: redis")
		}
		if l.Redis.Timeout < Duration(time.Millisecond) {
			return bad("limits.redis.timeout", "must be at least 1ms: a wait on the server is always bounded")
		}
		if l.Redis.PoolSize < 1 {
			return bad("limits.redis.pool_size", "must be at least 1")
		}
	case "postgres":
		if c.Postgres == nil || c.Postgres.DSN == "" {
			return bad("limits.store", "postgres needs the top-level postgres section (postgres: {dsn: ...})")
		}
	default:
		return bad("limits.store", "unknown store %q (want sqlite, redis or postgres)", l.Store)
	}
	if l.Maillog.Source != "file" && l.Maillog.Source != "journal" {
		return bad("limits.maillog.source", "unknown source %q (want file or journal)", l.Maillog.Source)
	}
	if l.Maillog.Silence <= 0 {
		return bad("limits.maillog.silence", "must be positive")
	}
	if l.Maillog.Start != "end" && l.Maillog.Start != "beginning" {
		return bad("limits.maillog.start", "unknown start %q (want end or beginning)", l.Maillog.Start)
	}
	// The host names keys in a shared store (Redis og:msg:HOST:QID, scanned
	// with HOST as a pattern prefix): a colon or a glob character would let
	// one host's scan see another's records.
	if len(l.Host) > 253 || strings.IndexFunc(l.Host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	}) >= 0 {
		return bad("limits.host", "want a host name: letters, digits, '.', '-', '_' (got %q)", l.Host)
	}
	if l.LoginCase != "fold" && l.LoginCase != "exact" {
		return bad("limits.login_case", "unknown value %q (want fold or exact)", l.LoginCase)
	}
	switch l.TrustedKey {
	case "ip", "sender":
		if l.TrustedHeader != "" {
			return bad("limits.trusted_header", "only used with trusted_key: header")
		}
	case "header":
		if !validHeaderName(l.TrustedHeader) {
			return bad("limits.trusted_key", "header needs trusted_header, a header field name (got %q)", l.TrustedHeader)
		}
	default:
		return bad("limits.trusted_key", "unknown key %q (want ip, sender or header)", l.TrustedKey)
	}
	if l.Alert.Timeout <= 0 {
		return bad("limits.alert.timeout", "must be more than 0")
	}
	if a := l.Alert.MailTo; a != "" && !limits.IsAddress(a) {
		return bad("limits.alert.mail_to", "want one address, local@domain (got %q)", a)
	}
	if (l.Alert.MailTo != "" || l.Alert.MailCustomer) && c.Quarantine == nil {
		return bad("limits.alert.mail_to", "mail notices are sent through the quarantine's release address: needs a quarantine section")
	}
	if l.SuspendFor < 0 {
		return bad("limits.suspend_for", "must not be negative (0: until released)")
	}
	if l.Escalate.After < 0 || l.Escalate.After > 0 && l.Escalate.Within <= 0 {
		return bad("limits.escalate", "after must be 0 (never) or more, with within more than 0")
	}
	switch l.OnSuspendQueued {
	case "hold", "delete":
		switch l.MTA.Kind {
		case "postfix":
			if l.MTA.ConfigDir == "" {
				return bad("limits.mta.config_dir", "must name Postfix's config directory (e.g. /etc/postfix)")
			}
		case "sendmail":
			if l.MTA.Config == "" {
				return bad("limits.mta.config", "must name Sendmail's .cf (e.g. /etc/mail/sendmail.cf)")
			}
		default:
			return bad("limits.mta.kind", "unknown MTA %q (want postfix or sendmail)", l.MTA.Kind)
		}
	case "keep":
	default:
		return bad("limits.on_suspend_queued", "unknown value %q (want hold, delete or keep)", l.OnSuspendQueued)
	}
	return nil
}

// failureAction checks an engine's on_error: what to do when the engine
// fails can only be an SMTP answer or a pass.
func failureAction(bad func(key, format string, args ...any) error, key string, a Action) error {
	switch policy.Action(a) {
	case policy.Tempfail, policy.Reject, policy.Accept:
		return nil
	}
	return bad(key, "must be tempfail, reject or accept")
}

// RFC 5322 3.6.8: printable US-ASCII except colon.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 33 || r > 126 || r == ':' {
			return false
		}
	}
	return true
}

// Networks returns the trusted networks as netip prefixes.
func (c *Config) Networks() []netip.Prefix {
	out := make([]netip.Prefix, len(c.TrustedNetworks))
	for i, p := range c.TrustedNetworks {
		out[i] = netip.Prefix(p)
	}
	return out
}

func (s *Spam) validate(bad func(key, format string, args ...any) error) error {
	u, err := url.Parse(s.URL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return bad("spam.url", "want rspamd's http://host:port, got %q", s.URL)
	}
	if s.Timeout <= 0 {
		return bad("spam.timeout", "must be more than 0")
	}
	if err := failureAction(bad, "spam.on_error", s.OnError); err != nil {
		return err
	}
	for k := range s.Actions {
		if _, ok := SpamActions[k]; !ok {
			return bad("spam.actions."+k, "unknown rspamd action %q (want reject, soft reject, rewrite subject, add header, greylist or no action)", k)
		}
	}
	return nil
}
