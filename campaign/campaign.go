// Package campaign finds campaigns across accounts: one text, or one
// attachment, sent by many accounts within a window, the way a
// credential-stuffing operation spreads a run over stolen accounts that
// each stay under their own limits. Each accepted message's fingerprint
// (fingerprint.go) is counted per distinct account in the shared limits
// store (limits.CampaignStore: exact across a fleet); once Accounts
// accounts sent one campaign within Window, further copies from any
// account get Action, and with Suspend the accounts that sent it are
// suspended with the campaign as evidence.
package campaign

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"outguard/limits"
	"outguard/mimewalk"
	"outguard/policy"
)

// Options configure the engine (the config's campaign section).
type Options struct {
	Store    limits.CampaignStore
	Limits   *limits.Engine // accounts, suspensions and alerts
	Accounts int            // distinct accounts that make a campaign
	Window   time.Duration
	Action   policy.Action // for further copies: quarantine, reject or tempfail
	Suspend  bool
	// Walk bounds the engine's own walk of a message, when no rules
	// engine walks it (Tap): the rules section's limits otherwise.
	Walk mimewalk.Limits
	Log  *slog.Logger
	Now  func() time.Time // nil: time.Now
}

// Engine is the campaign check: a policy.Committer, counting a message
// once every check has passed it.
type Engine struct{ o Options }

// New returns the engine of o.
func New(o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Engine{o: o}
}

func (e *Engine) Name() string { return "campaign" }

type collectorKey struct{}

// Tap starts t's fingerprint on the rules' walk (rules.Engine.Tap).
func (e *Engine) Tap(t *policy.Transaction) *Collector {
	c := NewCollector(recipientNames(t))
	t.SetValue(collectorKey{}, c)
	return c
}

// Commit counts the message toward its fingerprint's campaigns and gives
// a copy of an established campaign Action. A store that fails fails the
// check: the entry's on_error (default tempfail), never a silent pass.
func (e *Engine) Commit(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	accept := policy.Verdict{Action: policy.Accept}
	account, ok := e.o.Limits.AccountOf(t)
	if !ok {
		return accept, nil
	}
	fp, err := e.fingerprint(ctx, t)
	if err != nil {
		return policy.Verdict{}, err
	}
	keys := fp.Keys()
	if len(keys) == 0 {
		return accept, nil
	}
	now := e.o.Now()
	subject := subjectOf(t)
	res, err := e.o.Store.CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: account, Host: e.o.Limits.Accounts.Host, QueueID: t.QueueID, Subject: subject, Time: now, Bands: Quorum}, e.o.Window, e.o.Accounts)
	if err != nil {
		return policy.Verdict{}, err
	}
	if res.ID == "" {
		return accept, nil
	}
	c := limits.Campaign{ID: res.ID, First: now, Last: now, Subject: subject}
	for _, a := range res.Accounts {
		c.Accounts = append(c.Accounts, limits.CampaignAccount{Account: a})
	}
	if res.New {
		e.o.Limits.AlertCampaign(c)
	}
	if e.o.Suspend {
		// The copy that established it: every account that sent it; a
		// later one: its sender (the others are suspended already).
		suspend := []string{account}
		if res.New {
			suspend = res.Accounts
		}
		for _, a := range suspend {
			if _, err := e.o.Limits.SuspendCampaign(ctx, a, c, now); err != nil {
				return policy.Verdict{}, fmt.Errorf("suspending %s for campaign %s: %w", a, c.ID, err)
			}
		}
	}
	if !res.Known {
		t.Stamp("campaign " + res.ID + " established")
		return accept, nil
	}
	v := policy.New(e.o.Action, fmt.Sprintf("campaign %s: sent by %d accounts within %v (subject %q)", res.ID, len(res.Accounts), e.o.Window, subject))
	v.Findings = []policy.Finding{{Engine: "campaign", Name: res.ID, Action: e.o.Action.String(), Detail: fmt.Sprintf("sent by %d accounts within %v", len(res.Accounts), e.o.Window)}}
	return v, nil
}

// fingerprint is the one the rules' walk built (Tap), or, when no rules
// engine walked the message completely (none configured, or its walk
// failed with on_error accept), the engine's own walk's.
func (e *Engine) fingerprint(ctx context.Context, t *policy.Transaction) (Fingerprint, error) {
	if c, ok := t.Value(collectorKey{}).(*Collector); ok && c.Complete() {
		return c.Fingerprint(), nil
	}
	c := NewCollector(recipientNames(t))
	if _, err := mimewalk.Walk(ctx, t.Message, t.Message.Size(), e.o.Walk, func(it *mimewalk.Item) error {
		c.Item(it)
		return nil
	}); err != nil {
		return Fingerprint{}, err
	}
	c.Done()
	if !c.Complete() {
		return Fingerprint{}, fmt.Errorf("reading the message's parts failed")
	}
	return c.Fingerprint(), nil
}

// recipientNames are the words of t's recipients a mail merge puts in
// each copy: the envelope recipients' local parts and the display names
// and local parts of To and Cc.
func recipientNames(t *policy.Transaction) map[string]bool {
	var parts []string
	local := func(a string) {
		if l, _, ok := strings.Cut(a, "@"); ok {
			parts = append(parts, l)
		}
	}
	for _, r := range t.Rcpts {
		local(strings.Trim(r, "<>"))
	}
	for _, h := range t.Headers {
		if !strings.EqualFold(h.Name, "To") && !strings.EqualFold(h.Name, "Cc") {
			continue
		}
		list, err := mail.ParseAddressList(h.Value)
		if err != nil {
			continue
		}
		for _, a := range list {
			parts = append(parts, a.Name)
			local(a.Address)
		}
	}
	return Names(parts...)
}

// subjectOf is t's decoded subject, at most 200 bytes of valid UTF-8: a
// sample for the abuse desk (shown escaped).
func subjectOf(t *policy.Transaction) string {
	for _, h := range t.Headers {
		if strings.EqualFold(h.Name, "Subject") {
			s, err := new(mime.WordDecoder).DecodeHeader(h.Value)
			if err != nil {
				s = h.Value
			}
			s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
			for len(s) > 200 {
				_, n := utf8.DecodeLastRuneInString(s)
				s = s[:len(s)-n]
			}
			return s
		}
	}
	return ""
}
