// Package limits enforces per-account sending limits and suspends accounts
// that send to too many undeliverable recipients. Counters and suspensions
// live in a Store: SQLite for one smarthost, Redis for a fleet.
//
// Windows slide in fixed buckets: "per hour" is the sum of the 60 one-minute
// buckets ending with the current minute, "per day" the 24 one-hour buckets
// ending with the current hour. There is no boundary at which a count
// resets, so a client cannot send twice a limit around one; what it can
// gain is the part of the oldest bucket that has already left the exact
// window: at most one minute's (per hour) or one hour's (per day) sending.
// A check reads at most 84 buckets, whatever the account has sent, so its
// cost does not grow with volume.
package limits

import (
	"context"
	"fmt"
	"path"
	"sort"
	"time"
)

const (
	Hour = time.Hour
	Day  = 24 * time.Hour
)

// Limits for one account. 0 means no limit. Each is declared in Kinds.
type Limits struct {
	MessagesPerHour      int
	MessagesPerDay       int
	RecipientsPerHour    int
	RecipientsPerDay     int
	UndeliverablePerHour int // suspend when this many are counted in an hour
	// RefusedMessagesPerHour suspends when this many messages were refused
	// as a whole by their receivers (content, spam, DMARC, size) in an hour.
	RefusedMessagesPerHour int
	// Suspend when an hour holds more than this many distinct client
	// networks, countries or ASNs the account logged in from, or messages
	// classed as spam (spread.go).
	NetworksPerHour  int
	CountriesPerHour int
	ASNsPerHour      int
	SpamPerHour      int
	// ComplaintsPerDay suspends when more than this many messages were
	// complained about by receivers in a day (complaint.go).
	ComplaintsPerDay int
}

// Kind is one of an account's limits, declared once: its key in the
// config (limits.default, limits.users), its default, whether "unlimited"
// lifts it, and its field in Limits. Adding a limit: a field in Limits, a
// line here, its use in the engine, and the docs (milterd.yaml(5), the
// example config).
type Kind struct {
	Key     string
	Default int
	// Rate is a sending rate, which "unlimited" lifts; automatic
	// suspension (undeliverable recipients, refused messages, the signals
	// of spread.go) is not: a bulk account is exactly what an attacker
	// wants to take over.
	Rate  bool
	Field func(*Limits) *int
}

// Kinds are the limits. The defaults are the seed's: "a few hundred, at
// most a few thousand mails per day per account"; "more than 10
// undeliverable recipients per hour" is very unlikely from a regular user.
var Kinds = []Kind{
	{Key: "messages_per_hour", Default: 200, Rate: true, Field: func(l *Limits) *int { return &l.MessagesPerHour }},
	{Key: "messages_per_day", Default: 1000, Rate: true, Field: func(l *Limits) *int { return &l.MessagesPerDay }},
	{Key: "recipients_per_hour", Default: 500, Rate: true, Field: func(l *Limits) *int { return &l.RecipientsPerHour }},
	{Key: "recipients_per_day", Default: 2000, Rate: true, Field: func(l *Limits) *int { return &l.RecipientsPerDay }},
	{Key: "undeliverable_per_hour", Default: 10, Field: func(l *Limits) *int { return &l.UndeliverablePerHour }},
	// Receivers refusing whole messages (spam, content, DMARC): an
	// innocent customer has one or two such in an hour, a misconfigured
	// domain a few more; a stolen account sending spam has them by the
	// dozen.
	{Key: "refused_messages_per_hour", Default: 20, Field: func(l *Limits) *int { return &l.RefusedMessagesPerHour }},
	// Chosen by the replay benchmark (docs/suspension.md): no customer
	// pattern there comes near them, every botnet login crosses them.
	{Key: "networks_per_hour", Default: 12, Field: func(l *Limits) *int { return &l.NetworksPerHour }},
	{Key: "countries_per_hour", Default: 4, Field: func(l *Limits) *int { return &l.CountriesPerHour }}, // with geoip.country_db
	{Key: "asns_per_hour", Default: 6, Field: func(l *Limits) *int { return &l.ASNsPerHour }},           // with geoip.asn_db
	{Key: "spam_per_hour", Default: 10, Field: func(l *Limits) *int { return &l.SpamPerHour }},          // with the spam section
	// Off by default: how many complaints an innocent account gets
	// depends on the receivers' feedback loops and on what the
	// customers send (docs/suspension.md, "Complaints").
	{Key: "complaints_per_day", Default: 0, Field: func(l *Limits) *int { return &l.ComplaintsPerDay }}, // with the complaints section
}

// Unlimited reports whether no rate limit applies.
func (l Limits) Unlimited() bool {
	for _, k := range Kinds {
		if k.Rate && *k.Field(&l) != 0 {
			return false
		}
	}
	return true
}

// Policy resolves an account's limits: an exact login, else the longest
// matching pattern (path.Match, e.g. "*@bulk.example.net"), else Default.
type Policy struct {
	Default  Limits
	exact    map[string]Limits
	patterns []pattern
}

type pattern struct {
	glob string
	lim  Limits
}

// NewPolicy builds a Policy. users maps a login or pattern to its limits.
func NewPolicy(def Limits, users map[string]Limits) (*Policy, error) {
	p := &Policy{Default: def, exact: map[string]Limits{}}
	for k, l := range users {
		if _, err := path.Match(k, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %v", k, err)
		}
		if containsMeta(k) {
			p.patterns = append(p.patterns, pattern{k, l})
		} else {
			p.exact[k] = l
		}
	}
	sort.Slice(p.patterns, func(i, j int) bool {
		a, b := p.patterns[i].glob, p.patterns[j].glob
		return len(a) > len(b) || len(a) == len(b) && a < b
	})
	return p, nil
}

func containsMeta(s string) bool {
	for _, c := range s {
		if c == '*' || c == '?' || c == '[' || c == '\\' {
			return true
		}
	}
	return false
}

// For returns the limits of account key.
func (p *Policy) For(key string) Limits {
	if l, ok := p.exact[key]; ok {
		return l
	}
	for _, pt := range p.patterns {
		if ok, _ := path.Match(pt.glob, key); ok {
			return pt.lim
		}
	}
	return p.Default
}

// Buckets of the two windows.
const (
	minuteBucket = time.Minute
	hourBucket   = time.Hour
	hourBuckets  = int64(Hour / minuteBucket) // per hour: 60 minute buckets
	dayBuckets   = int64(Day / hourBucket)    // per day: 24 hour buckets
)

// windowStart returns the first bucket index of each window ending at now.
func windowStart(now time.Time) (minute, hour int64) {
	return now.Unix()/60 - hourBuckets + 1, now.Unix()/3600 - dayBuckets + 1
}

// Usage is what an account sent in the windows ending now, with the start
// of the oldest bucket in use in each (to say when a limit frees up).
type Usage struct {
	MessagesHour, MessagesDay     int
	RecipientsHour, RecipientsDay int
	OldestHour, OldestDay         time.Time
}

// usageFrom builds a Usage from bucket sums and the oldest buckets in use
// (minute and hour indexes; 0 when none).
func usageFrom(mh, md, rh, rd, oldestMinute, oldestHour int64) Usage {
	u := Usage{MessagesHour: int(mh), MessagesDay: int(md), RecipientsHour: int(rh), RecipientsDay: int(rd)}
	if oldestMinute > 0 {
		u.OldestHour = time.Unix(oldestMinute*60, 0)
	}
	if oldestHour > 0 {
		u.OldestDay = time.Unix(oldestHour*3600, 0)
	}
	return u
}

// Exceeded describes the limit a message would cross.
type Exceeded struct {
	Limit  int
	What   string // "messages per hour", …
	FreeAt time.Time
}

// Check returns the first limit that one more message with rcpts
// recipients would cross, or nil.
func (l Limits) Check(u Usage, msgs, rcpts int) *Exceeded {
	for _, c := range []struct {
		lim, used, add int
		what           string
		free           time.Time
	}{
		{l.MessagesPerHour, u.MessagesHour, msgs, "messages per hour", u.OldestHour.Add(Hour)},
		{l.MessagesPerDay, u.MessagesDay, msgs, "messages per day", u.OldestDay.Add(Day)},
		{l.RecipientsPerHour, u.RecipientsHour, rcpts, "recipients per hour", u.OldestHour.Add(Hour)},
		{l.RecipientsPerDay, u.RecipientsDay, rcpts, "recipients per day", u.OldestDay.Add(Day)},
	} {
		if c.lim > 0 && c.used+c.add > c.lim {
			return &Exceeded{Limit: c.lim, What: c.what, FreeAt: c.free}
		}
	}
	return nil
}

// Sent is a message counted against its account. Its record, kept by host
// and queue id, lets the log follower charge bounces to the account: queue
// ids are unique on one host only (Postfix: enable_long_queue_ids = yes).
type Sent struct {
	Host    string
	QueueID string // "": no record is kept
	Rcpts   []string
	Time    time.Time
	// Campaign is the message's campaign copy (nil: none), counted in
	// CommitMessage's round trip if the message is admitted
	// (campaignfold.go).
	Campaign *CampaignCount
}

// Undeliverable is one recipient that could not be delivered or, with
// Kind "message", one message its receiver refused as a whole (Classify).
type Undeliverable struct {
	ID      string    `json:"id"`             // unique per event: counting is idempotent
	Kind    string    `json:"kind,omitempty"` // KindRecipient or KindMessage
	Time    time.Time `json:"time"`
	Rcpt    string    `json:"rcpt"`
	Status  string    `json:"status"` // enhanced status, e.g. 5.1.1
	Text    string    `json:"text,omitempty"`
	QueueID string    `json:"queue_id,omitempty"`
	Source  string    `json:"source"` // "rcpt" (refused by the MTA) or "log" (bounced later)
}

// Suspension is an account's suspension with its evidence.
type Suspension struct {
	Key      string          `json:"account"`
	Since    time.Time       `json:"since"`
	Until    time.Time       `json:"until,omitzero"` // zero: until released
	Reason   string          `json:"reason"`
	By       string          `json:"by"` // "milterd" or the operator
	Evidence []Undeliverable `json:"evidence,omitempty"`

	// Signal is what milterd suspended the account for: "undeliverable"
	// (also when empty, as recorded before there were others), or a
	// signal of spread.go, whose evidence is in Sightings.
	Signal    string     `json:"signal,omitempty"`
	Sightings []Sighting `json:"sightings,omitempty"`
	// Escalated: an automatic suspension made permanent (Escalation).
	Escalated bool `json:"escalated,omitempty"`
}

// Active reports whether the suspension is in force at now.
func (s *Suspension) Active(now time.Time) bool {
	return s != nil && (s.Until.IsZero() || now.Before(s.Until))
}

// Store keeps counters, suspensions and message records. Every method is
// one round trip to the backend and atomic; none reads more than a bounded
// number of rows per account, whatever its volume.
//
// A fleet shares one store, so every operation that counts and then
// compares (Admit's limits, AddUndeliverable's threshold, and any counter
// added later: refused messages, networks or spam verdicts per hour) must
// see every other host's count: it runs under the account's lock
// (SQLStore.locked: SQLite's write lock, PostgreSQL's advisory lock on the
// account) or as one atomic statement (a Lua script on Redis), never as a
// write followed by a separate read. TestTwoHostsCrossOnce, in the shared
// suite, checks each counter on each store: two writers, one crossing.
//
// ctx carries the caller's deadline (for a message: its own); a backend
// that does not answer by then fails the call, and a write that fails so
// is not committed later.
type Store interface {
	// Usage returns key's usage and its suspension (nil if none).
	Usage(ctx context.Context, key string, now time.Time) (Usage, *Suspension, error)
	// Admit counts m against key if it keeps every limit in lim, and keeps
	// its record for the log follower. It reports whether m was admitted
	// and, when it was not, the usage that refused it.
	Admit(ctx context.Context, key string, m Sent, lim Limits, now time.Time) (Usage, bool, error)
	// BeginMessage is the MAIL stage in one round trip (stage.go): Usage,
	// and ss (the login's) recorded and counted as Sight does; nil counts
	// when ss is empty.
	BeginMessage(ctx context.Context, key string, ss []Sighting, now time.Time) (Usage, *Suspension, map[string]int, error)
	// CommitMessage is end-of-message in one round trip (stage.go): Admit,
	// and ss (a spam verdict) recorded and counted as Sight does under the
	// same lock, whether or not m is admitted; nil counts when ss is empty.
	// key's suspension, if one is in force at now, is read under that lock
	// too and returned, m not admitted: a suspension made after the
	// message's MAIL (by another host, milterctl, another signal) stops it
	// at end of data. ErrClockSkew when m's slots hold later buckets.
	CommitMessage(ctx context.Context, key string, m Sent, lim Limits, ss []Sighting, now time.Time) (Usage, bool, *Suspension, map[string]int, error)
	// AddUndeliverable records events (an ID already recorded is not counted
	// again) and returns how many of key's count toward a suspension: those
	// in the hour before now and after its last acknowledgement.
	AddUndeliverable(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error)
	// Undeliverables returns key's events since the given time, oldest first.
	Undeliverables(ctx context.Context, key string, since time.Time) ([]Undeliverable, error)
	// AddRefused records messages refused as a whole (Kind "message"; an
	// ID already recorded is not counted again), atomically for the account
	// as Admit, and returns how many of key's count toward a suspension:
	// those in the hour before now and after its last acknowledgement.
	AddRefused(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error)
	// Refused returns key's refused messages since the given time, oldest
	// first.
	Refused(ctx context.Context, key string, since time.Time) ([]Undeliverable, error)
	// Acknowledged returns when key's undeliverables were last acknowledged
	// (unsuspend, reset); zero if never.
	Acknowledged(ctx context.Context, key string) (time.Time, error)
	// Suspend records s unless key is suspended and the suspension is in
	// force at now (an expired one gives way); it reports whether it did.
	Suspend(ctx context.Context, s Suspension, now time.Time) (bool, error)
	// Unsuspend lifts key's suspension and acknowledges its undeliverables
	// up to now; it reports whether there was a suspension.
	Unsuspend(ctx context.Context, key string, now time.Time) (bool, error)
	// Reset clears key's counters and acknowledges its undeliverables up to
	// now (they stay as history).
	Reset(ctx context.Context, key string, now time.Time) error
	// Suspensions lists every suspension, expired ones included.
	Suspensions(ctx context.Context) ([]Suspension, error)
	// Accounts lists the accounts with counters or a suspension.
	Accounts(ctx context.Context) ([]string, error)
	// Owner returns the account of the message host sent as queueID, and
	// its recipients not yet delivered.
	Owner(ctx context.Context, host, queueID string) (string, []string, error)
	// Queued returns the queue ids of the messages host recorded for key
	// (kept for the records' retention): the mail of a suspended account
	// its queue may still hold (containment/). A suspension is rare: this
	// may read every record of host.
	Queued(ctx context.Context, host, key string) ([]string, error)
	// Delivered marks recipients of messages host sent as delivered
	// (queue id -> recipients): an expiry no longer charges them. One call
	// takes all the deliveries a batch of log lines names.
	Delivered(ctx context.Context, host string, delivered map[string][]string) error
	// Sight records what key was seen with (spread.go): a value already
	// recorded is seen again at the later time. It returns, per signal,
	// how many distinct values key was seen with in the hour window ending
	// at now (the minute buckets of the rate limits) and after its last
	// acknowledgement, counted under the account's lock: two writers
	// cannot both miss a crossing.
	Sight(ctx context.Context, key string, ss []Sighting, now time.Time) (map[string]int, error)
	// Sightings returns key's sightings last seen after since, oldest first.
	Sightings(ctx context.Context, key string, since time.Time) ([]Sighting, error)
	// Audit appends ev to the accounts' audit trail.
	Audit(ctx context.Context, ev AuditEvent) error
	// AuditTrail returns key's events ("": every account's) at or after
	// since, oldest first.
	AuditTrail(ctx context.Context, key string, since time.Time) ([]AuditEvent, error)
	// Purge forgets what no window or lookup needs any more.
	Purge(ctx context.Context, now time.Time) error
	ComplaintStore
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	Close() error
	// The alerts' outbox (outbox.go) is in every store.
	Outbox
	// The alerts sent once per window by a fleet (once.go).
	Once
}

// Retention of message records, for bounces that come days later
// (Postfix's maximal_queue_lifetime is 5 days), and of evidence.
const recordTTL = 7 * Day

func sortSuspensions(s []Suspension) {
	sort.Slice(s, func(i, j int) bool { return s[i].Key < s[j].Key })
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
