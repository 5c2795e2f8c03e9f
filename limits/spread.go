package limits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"outguard/policy"
)

// The signals that suspend an account. Besides undeliverable recipients
// (check.go): the spread of its logins, the distinct client networks,
// countries and ASNs it authenticated from within an hour (stolen
// credentials in a botnet's hands log in from dozens of them), and the
// messages a spam check classed as spam (a compromised account mailing a
// valid list bounces nothing).
const (
	SignalUndeliverable = "undeliverable"
	SignalNetworks      = "networks"
	SignalCountries     = "countries"
	SignalASNs          = "asns"
	SignalSpam          = "spam"
)

// spreadSignals are the login signals, in the order they are judged.
var spreadSignals = []string{SignalNetworks, SignalCountries, SignalASNs}

// Sighting is one distinct value an account was seen with: a client
// network ("192.0.2.0/24", "2001:db8:1::/48"), a country ("DE"), an ASN
// ("AS64500"), or a message classed as spam (its transaction id).
type Sighting struct {
	Signal string    `json:"signal"`
	Value  string    `json:"value"`
	First  time.Time `json:"first"` // first seen (within the retention of 7 days)
	Last   time.Time `json:"last"`
	// Detail is the client address last seen, or for spam the queue id
	// with the spam check's action and score.
	Detail string `json:"detail,omitempty"`
}

// Locator tells where an address is: its country's ISO 3166 code and its
// autonomous system number, "" and 0 when unknown (geoip.DB is one).
type Locator interface {
	Locate(addr netip.Addr) (country string, asn uint32)
}

// Network is the client network an address counts as: its /24 (IPv4) or
// /48 (IPv6), one customer's line or site whatever address its provider
// hands it today (an IPv6 customer is given a /48 to /56 and picks any
// address in it).
func Network(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// HourWindow is the first instant of the hour window ending at now: the
// first of its 60 minute buckets, as the rate limits count.
func HourWindow(now time.Time) time.Time {
	fm, _ := windowStart(now)
	return time.Unix(fm*60, 0)
}

// Signals are the signals of spread.go, in the order they are shown.
var Signals = []string{SignalNetworks, SignalCountries, SignalASNs, SignalSpam}

// Threshold is the limit of a signal: more than this many in an hour
// suspend (undeliverable recipients: this many); 0 is off.
func (l Limits) Threshold(signal string) int {
	switch signal {
	case SignalNetworks:
		return l.NetworksPerHour
	case SignalCountries:
		return l.CountriesPerHour
	case SignalASNs:
		return l.ASNsPerHour
	case SignalSpam:
		return l.SpamPerHour
	case SignalUndeliverable:
		return l.UndeliverablePerHour
	}
	return 0
}

// loginSightings are where t's client logged in from, for the MAIL
// stage to record (BeginMessage). Only SASL logins from outside the
// trusted networks count: a trusted relay (webmail) submits for many users
// from one address that says nothing about where any of them is, so its
// users count by their keyed account (spam) but not by the relay's
// address.
func (e *Engine) loginSightings(t *policy.Transaction, lim Limits, now time.Time) []Sighting {
	if t.User == "" || !t.Conn.Addr.IsValid() || e.Accounts.trusted(t) {
		return nil
	}
	addr := t.Conn.Addr.Unmap()
	// The address itself, whatever the limits: who sent from it, for
	// relayprobe's blocklist watch (logins.go).
	ss := []Sighting{{Signal: SightingAddress, Value: addr.String(), First: now, Last: now}}
	if lim.NetworksPerHour > 0 {
		ss = append(ss, Sighting{Signal: SignalNetworks, Value: Network(addr).String(), First: now, Last: now, Detail: addr.String()})
	}
	if e.Geo != nil && (lim.CountriesPerHour > 0 || lim.ASNsPerHour > 0) {
		country, asn := e.Geo.Locate(addr)
		if lim.CountriesPerHour > 0 && country != "" {
			ss = append(ss, Sighting{Signal: SignalCountries, Value: country, First: now, Last: now, Detail: addr.String()})
		}
		if lim.ASNsPerHour > 0 && asn != 0 {
			ss = append(ss, Sighting{Signal: SignalASNs, Value: fmt.Sprintf("AS%d", asn), First: now, Last: now, Detail: addr.String()})
		}
	}
	return ss
}

// spreadCrossed suspends the account when the counts of its login
// sightings (BeginMessage's) make one signal of its spread cross its
// limit.
func (e *Engine) spreadCrossed(ctx context.Context, key string, lim Limits, n map[string]int, now time.Time) (*Suspension, error) {
	for _, sig := range spreadSignals {
		if l := lim.Threshold(sig); l > 0 && n[sig] > l {
			return e.suspendOn(ctx, key, sig, n[sig], l, now)
		}
	}
	return nil, nil
}

// CountSpam counts a message of t that a spam check classed as spam
// (detail: what it said) toward its account's spam_per_hour, and suspends
// the account when that crosses it. The message itself has the spam
// check's verdict; the suspension stops the next one. A message checked at
// MAIL is counted with its commit, in its round trip (Commit), or, when it
// is not accepted, by Settle; one keyed by a header at once.
func (e *Engine) CountSpam(ctx context.Context, t *policy.Transaction, detail string) error {
	key, ok := e.AccountOf(t)
	if !ok {
		return nil
	}
	lim := e.Policy.For(key)
	if lim.SpamPerHour <= 0 {
		return nil
	}
	now := e.Now()
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if t.QueueID != "" {
		detail = t.QueueID + " " + detail
	}
	spam := Sighting{Signal: SignalSpam, Value: spamIdentity(t), First: now, Last: now, Detail: detail}
	if st := state(t); st != nil && st.key != "" && st.key == key {
		st.spam = &spam // the commit's, or Settle's
		return nil
	}
	n, err := e.Store.Sight(ctx, key, []Sighting{spam}, now)
	if err != nil {
		return err
	}
	return e.spamCounted(ctx, t, key, lim, n, now)
}

// spamCounted logs a spam verdict counted and suspends the account when
// its count n crosses spam_per_hour.
func (e *Engine) spamCounted(ctx context.Context, t *policy.Transaction, key string, lim Limits, n map[string]int, now time.Time) error {
	e.Log.Info("message classed as spam", "account", key, "qid", t.QueueID, "last_hour", n[SignalSpam], "limit", lim.SpamPerHour)
	if n[SignalSpam] > lim.SpamPerHour {
		_, err := e.suspendOn(ctx, key, SignalSpam, n[SignalSpam], lim.SpamPerHour, now)
		return err
	}
	return nil
}

// Settle counts the spam verdict of a message that is not accepted (no
// commit counts it): one round trip, as the commit's would have been.
func (e *Engine) Settle(ctx context.Context, t *policy.Transaction) error {
	st := state(t)
	if st == nil || st.spam == nil {
		return nil
	}
	spam := *st.spam
	st.spam = nil
	ctx, cancel := e.bound(ctx)
	defer cancel()
	now := e.Now()
	n, err := e.Store.Sight(ctx, st.key, []Sighting{spam}, now)
	if err != nil {
		return fmt.Errorf("counting toward spam_per_hour: %w", err)
	}
	return e.spamCounted(ctx, t, st.key, st.lim, n, now)
}

// suspendOn suspends key for crossing signal's limit with n in the hour,
// with the sightings of that hour as evidence, and returns it. When
// another session or host suspended the account first, the one in force
// stands and nobody is told twice.
func (e *Engine) suspendOn(ctx context.Context, key, signal string, n, limit int, now time.Time) (*Suspension, error) {
	since := HourWindow(now).Add(-time.Millisecond) // the window's first minute, inclusive
	if acked, err := e.Store.Acknowledged(ctx, key); err != nil {
		return nil, err
	} else if acked.After(since) {
		since = acked
	}
	all, err := e.Store.Sightings(ctx, key, since)
	if err != nil {
		return nil, err
	}
	var evidence []Sighting
	for _, s := range all {
		if s.Signal == signal {
			evidence = append(evidence, s)
		}
	}
	s := Suspension{
		Key: key, Since: now, By: "milterd", Signal: signal, Sightings: evidence,
		Reason: crossedReason(signal, n, limit),
	}
	return e.suspendSignal(ctx, &s, now)
}

// crossedReason is what n of signal within an hour, over limit, says.
func crossedReason(signal string, n, limit int) string {
	return fmt.Sprintf("%d %s within an hour (limit %d)", n, signalWhat[signal], limit)
}

// suspendSignal records s, an automatic suspension for s.Signal, and
// tells the log, the alert and the metrics once; the one already in force
// stands.
func (e *Engine) suspendSignal(ctx context.Context, s *Suspension, now time.Time) (*Suspension, error) {
	created, err := e.autoSuspend(ctx, s, now)
	if err != nil {
		return nil, err
	}
	if !created {
		if s.Signal != SignalCampaign { // another campaign's own spare decides (OtherUnspared)
			return s, e.markCrossed(ctx, s.Key, s.Signal, s.Reason, nil, now)
		}
		return s, nil
	}
	e.Log.Warn("account suspended", "account", s.Key, "signal", s.Signal, "reason", s.Reason, "until", s.Until)
	e.Alert.Fire(Alert{Event: "suspended", Account: s.Key, Signal: s.Signal, Suspension: s})
	if e.Observer != nil {
		e.Observer.Suspended(s.Signal)
	}
	return s, nil
}

// signalWhat names what a signal counts, in reasons and replies.
var signalWhat = map[string]string{
	SignalUndeliverable: "undeliverable recipients",
	SignalNetworks:      "client networks logged in from",
	SignalCountries:     "countries logged in from",
	SignalASNs:          "network operators (ASNs) logged in from",
	SignalSpam:          "messages classed as spam",
	SignalCampaign:      "accounts sending one campaign",
	SignalComplaints:    "messages complained about",
}

// suspendedText is what the customer is told an account was suspended for.
func suspendedText(signal string) string {
	switch signal {
	case SignalNetworks, SignalCountries, SignalASNs:
		return " for logins from too many places"
	case SignalSpam:
		return " for sending spam"
	case SignalRefused:
		return " for mail its receivers refused"
	case SignalCampaign:
		return " for sending a mail campaign"
	case SignalComplaints:
		return " for mail its receivers reported as spam"
	}
	return " for sending to too many undeliverable recipients"
}

// spamIdentity names the message, not the attempt: a client's MTA retries
// a message another check deferred (clamd down, a rate limit) with the same
// Message-ID, sender and recipients, and one false positive must not count
// once per retry. Without a Message-ID each attempt counts. Reusing one
// Message-ID gains a spammer nothing: other recipients make another value.
func spamIdentity(t *policy.Transaction) string {
	var mid string
	for _, h := range t.Headers {
		if strings.EqualFold(h.Name, "Message-ID") {
			mid = strings.TrimSpace(h.Value)
			break
		}
	}
	if mid == "" {
		return t.ID
	}
	rcpts := slices.Clone(t.Rcpts)
	slices.Sort(rcpts)
	sum := sha256.Sum256([]byte(mid + "\x00" + t.From + "\x00" + strings.Join(rcpts, "\x00")))
	return "msg:" + hex.EncodeToString(sum[:12])
}
