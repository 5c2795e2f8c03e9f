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
	"slices"
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
	// SharedDomains are the login domains (lower case) whose accounts
	// each count on their own: the ISP's consumer domains. Every other
	// login domain's accounts count as one organisation (organisation).
	SharedDomains []string
	// SendersBound says the MTA refuses an envelope sender the login
	// does not own (Postfix's reject_authenticated_sender_login_mismatch
	// over smtpd_sender_login_maps): an envelope sender at a shared
	// domain is then one of the account's own addresses, an alias unlike
	// its login (login ab1234, jane.doe@isp.example) included, and a copy
	// to it reaches nobody. Unbound, the envelope sender is the client's
	// to choose and only the login's own name counts (ownEnvelope).
	SendersBound bool
	// Walk bounds the engine's own walk of a message, when no rules
	// engine walks it (Tap): the rules section's limits otherwise.
	Walk mimewalk.Limits
	// Seed keys the fingerprint's sampling (Seed): the fleet's secret,
	// the same on every smarthost, from the shared store (StoreSeed);
	// nil: no seed, every count fails.
	Seed *SeedSource
	Log  *slog.Logger
	Now  func() time.Time // nil: time.Now
}

// Engine is the campaign check: a policy.Committer, counting a message
// once every check has passed it.
type Engine struct {
	o      Options
	shared []string // o.SharedDomains in ASCII (sharedNames)
}

// New returns the engine of o.
func New(o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Engine{o: o, shared: sharedNames(o.SharedDomains)}
}

func (e *Engine) Name() string { return "campaign" }

type collectorKey struct{}

// Tap starts t's fingerprint on the rules' walk (rules.Engine.Tap): nil
// while the seed is not read yet (the store failed so far), and the
// count walks the message itself once it has the seed (fingerprint).
func (e *Engine) Tap(t *policy.Transaction) *Collector {
	seed, ok := e.o.Seed.Known()
	if !ok {
		return nil
	}
	c := NewCollector(recipientNames(t), seed)
	t.SetValue(collectorKey{}, c)
	return c
}

// CheckMessage reads the fleet's seed (Seed.Get: kept once read) at the
// end of data, before any commit: a seed the store cannot give fails the
// message here, with the entry's on_error, and so before the limits
// commit counts it. Failed later, in the commits, the message was
// counted against its sender's limits although refused, and each retry
// again: a seed unreadable for long (a restricted role without the
// schema 15 grant, garbage in the store) spent every sender's
// messages_per_hour on refused mail. Messages without an account are
// not counted here, and not failed.
func (e *Engine) CheckMessage(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	if _, ok := e.o.Limits.AccountOf(t); ok {
		if _, err := e.o.Seed.Get(ctx, e.o.Log); err != nil {
			return policy.Verdict{}, err
		}
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// CampaignCount is t's copy for account, counted with the message in the
// limits engine's commit (limits.Campaigner): nil when it has no keys.
func (e *Engine) CampaignCount(ctx context.Context, t *policy.Transaction, account string) (*limits.CampaignCount, error) {
	col, err := e.fingerprint(ctx, t)
	if err != nil {
		return nil, err
	}
	// A link or a number to call in the subject (all of it, as a reader
	// sees it), or replies sent elsewhere, is something to act on: a
	// shared notice is then the sender's text (cutBoilerplate), salted
	// with its targets (targets.go).
	col.subject(subject(t))
	if repliesElsewhere(t, e.shared) {
		col.target(askTarget)
	}
	col.shared = e.shared
	// Addresses at the sender's own organisation (a login domain not
	// shared) are the sender's to give (TestReviewNoticeOwnAddress); a
	// consumer login's are anybody's.
	chosen := e.o.Limits.Accounts.ClientChosen(t)
	if !chosen {
		col.ownMail = strings.TrimPrefix(organisation(account, e.shared), "@")
	}
	keys := col.archiveKeys(col.Fingerprint().Keys())
	if len(keys) == 0 {
		return nil, nil
	}
	// A site's own template is the site's alone (sender.go).
	if site := col.site(t, account); site != "" {
		keys = salted(keys, site)
	}
	// A key the client chose (an envelope sender from a trusted relay)
	// is grouped with nothing: one client's many made-up senders at one
	// domain would be one organisation and never a campaign. Each counts
	// alone, as its limits do.
	group, self := "", own{}
	if !chosen {
		group, self.mailboxes = organisation(account, e.shared), []string{account}
		// A login that is a user name (citizen7) has no address: the
		// signer's own is then the envelope sender when it is the
		// login at one of the ISP's shared domains. With the login
		// alone, a petition whose signers Cc their own address gave
		// every signer a recipient of its own, and it was a campaign
		// at the fifth, all signers suspended
		// (TestReviewPetitionCcSelfUsernameLogin). Any envelope sender
		// would be the client's to choose: a run sending each victim
		// its copy with MAIL FROM the victim made every account's
		// recipients "self", never a campaign
		// (TestReviewR1ChosenEnvelopeSelf).
		from := strings.Trim(strings.TrimSpace(t.From), "<>")
		if !strings.Contains(account, "@") && ownEnvelope(account, from, e.shared, false) {
			self.mailboxes = append(self.mailboxes, from)
		}
		// Unless the MTA binds envelope senders to logins
		// (SendersBound): then any at a shared domain is a SASL login's
		// own (TestSendersBoundAlias), that very mailbox only. Postfix
		// binds SASL logins alone: an account keyed by its address or
		// a relay's header chooses its sender, and with its sender the
		// victim every run went unfound; compared by registrable domain,
		// a login owning a subdomain of a shared one (@biz.isp.example)
		// made the ISP's consumers its own (review slm,
		// TestReviewSLMUnauthenticatedSelf, TestReviewSLMSubdomainCatchAllSelf).
		if e.o.SendersBound && t.User != "" && ownEnvelope(account, from, e.shared, true) {
			self.bound = from
		}
	}
	return &limits.CampaignCount{Copy: limits.CampaignCopy{Keys: keys, Account: account, Host: e.o.Limits.Accounts.Host, QueueID: t.QueueID, Subject: subjectOf(t), Time: e.o.Now(), Bands: Quorum,
		Group: group, Rcpts: rcptHashes(t, self, col.seed), Suspend: e.o.Suspend}, Window: e.o.Window, Threshold: e.o.Accounts}, nil
}

// Commit gives a copy of an established campaign Action, alerts and
// suspends. The copy was counted with the message by the limits engine's
// commit (limits.CampaignOutcome); a store that cannot fold it, or a
// message the limits engine did not commit, is counted here. A store
// that fails fails the check: the entry's on_error (default tempfail),
// never a silent pass.
func (e *Engine) Commit(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	accept := policy.Verdict{Action: policy.Accept}
	account, ok := e.o.Limits.AccountOf(t)
	if !ok {
		return accept, nil
	}
	cc, err, taken := limits.CampaignOutcome(t)
	if err != nil {
		return policy.Verdict{}, err
	}
	if !taken {
		if cc, err = e.CampaignCount(ctx, t, account); err != nil {
			return policy.Verdict{}, err
		}
	}
	if cc == nil {
		return accept, nil
	}
	if !cc.Done {
		if cc.Result, err = e.o.Store.CampaignCopy(ctx, cc.Copy, cc.Window, cc.Threshold); err != nil {
			return policy.Verdict{}, err
		}
		cc.Done = true
	}
	res, now, subject := cc.Result, cc.Copy.Time, cc.Copy.Subject
	if res.ID == "" {
		e.finishPending(ctx, res.Pending, nil, now)
		return accept, nil
	}
	c := limits.Campaign{ID: res.ID, First: now, Last: now, Subject: subject}
	for _, a := range res.Accounts {
		c.Accounts = append(c.Accounts, limits.CampaignAccount{Account: a})
	}
	if res.Unindexed != nil {
		e.o.Log.Warn("indexing a new campaign for its senders failed; accounts show of them misses it", "campaign", res.ID, "accounts", res.Accounts, "err", res.Unindexed)
	}
	if res.New {
		e.o.Limits.AlertCampaign(c, now.Add(e.o.Window))
	}
	spared := false
	if e.o.Suspend {
		// The copy that established it: every account that sent it; a
		// later one: its sender (the others are suspended already). The
		// store marked them pending with the copy: those not done here
		// (the store failed between) a later copy finishes. A later copy
		// moves the campaign's spare on and reads whether it spares the
		// sender (TouchSpare; a copy of the run that established it again
		// after a window without one finds the spare stale).
		suspend := []string{account}
		if res.New {
			suspend = res.Accounts
		} else if spared, err = e.o.Store.TouchSpare(ctx, c.ID, account, now, e.o.Window); err != nil {
			return policy.Verdict{}, fmt.Errorf("campaign %s's spare: %w", c.ID, err)
		}
		var done []limits.PendingSuspension
		for _, a := range suspend {
			var s bool
			switch {
			case res.New:
				s, err = e.suspend(ctx, a, c, now)
			case !spared:
				s, err = e.suspendUnspared(ctx, a, c, now)
			}
			if err != nil {
				return policy.Verdict{}, fmt.Errorf("suspending %s for campaign %s: %w", a, c.ID, err)
			}
			spared = spared || s && a == account
			done = append(done, limits.PendingSuspension{ID: c.ID, Account: a})
		}
		e.finishPending(ctx, res.Pending, done, now)
	}
	if !res.Known {
		t.Stamp("campaign " + res.ID + " established")
		return accept, nil
	}
	reason := fmt.Sprintf("campaign %s: sent by %d accounts within %v (subject %q)", res.ID, len(res.Accounts), e.o.Window, subject)
	if spared {
		reason += "; its sender spared"
	}
	v := policy.New(e.o.Action, reason)
	v.Findings = []policy.Finding{{Engine: "campaign", Name: res.ID, Action: e.o.Action.String(), Detail: fmt.Sprintf("sent by %d accounts within %v", len(res.Accounts), e.o.Window)}}
	return v, nil
}

// finishPending suspends the pending senders of campaigns (a suspension
// an earlier copy's store failure left undone, on any host) and records
// them, with done (suspended by this copy), as suspended. A failure is
// logged and leaves them pending for the next copy: it is not this
// copy's (which is counted), and must not fail every message while the
// store recovers. Each of those campaigns' new-campaign alert is sent
// again (once for the fleet: AlertCampaign): the copy that established
// it may have lost its answer, and its alert with it.
func (e *Engine) finishPending(ctx context.Context, pending, done []limits.PendingSuspension, now time.Time) {
	if !e.o.Suspend {
		return
	}
	alerted := map[string]bool{}
	for _, p := range pending {
		if slices.Contains(done, p) {
			continue
		}
		c, err := e.o.Store.CampaignByID(ctx, p.ID)
		if err == nil && c != nil {
			if !alerted[c.ID] {
				alerted[c.ID] = true
				e.o.Limits.AlertCampaign(*c, now.Add(e.o.Window))
			}
			_, err = e.suspend(ctx, p.Account, *c, now)
		}
		if err != nil {
			e.o.Log.Warn("suspending a campaign's sender failed; retried with the next copy", "account", p.Account, "campaign", p.ID, "err", err)
			continue
		}
		done = append(done, p)
	}
	if len(done) == 0 {
		return
	}
	if err := e.o.Store.CampaignSuspended(ctx, done); err != nil {
		e.o.Log.Warn("recording campaign suspensions failed; done again with the next copy", "err", err)
	}
}

// suspend suspends account for campaign c unless the abuse desk spared
// it of c's run (limits.SparedAccount; milterctl campaigns spare), and
// reports whether it was spared.
func (e *Engine) suspend(ctx context.Context, account string, c limits.Campaign, now time.Time) (bool, error) {
	if spared, err := e.o.Store.SparedAccount(ctx, c.ID, account, now, e.o.Window); err != nil || spared {
		return spared, err
	}
	return e.suspendUnspared(ctx, account, c, now)
}

// suspendUnspared suspends account for campaign c, whose spare did not
// spare it when read, and reports whether it was spared after all. The
// spare is read again after the suspension: the desk's command, recording
// the spare and then lifting the accounts' suspensions, may have read
// this account between the two reads; then the suspension is lifted here
// as the command lifts it (limits.LiftSpared), and voided (review
// rspare3: the account stayed suspended).
func (e *Engine) suspendUnspared(ctx context.Context, account string, c limits.Campaign, now time.Time) (bool, error) {
	s, err := e.o.Limits.SuspendCampaign(ctx, account, c, now)
	if err != nil {
		return false, err
	}
	spared, err := e.o.Store.SparedAccount(ctx, c.ID, account, now, e.o.Window)
	if err != nil || !spared {
		return false, err
	}
	kept, err := limits.KeptCampaigns(ctx, e.o.Store, now)
	if err != nil {
		return false, err
	}
	void := func() error {
		if err := limits.VoidCampaign(ctx, e.o.Limits.Store, account, c.ID, "milterd", e.o.Limits.Accounts.Host, "spared while milterd suspended it: lifted"); err != nil {
			e.o.Log.Warn("audit trail: a spared account's lifted suspension was not recorded", "account", account, "campaign", c.ID, "err", err)
		}
		return nil // the lift goes on: it is what the desk asked
	}
	lifted, _, err := limits.LiftSpared(ctx, e.o.Limits.Store, e.o.Store, s, c.ID, kept, now, void)
	return lifted, err
}

// fingerprint is the collector of the rules' walk (Tap), or, when no
// rules engine walked the message completely (none configured, its walk
// failed with on_error accept, the seed was not read yet or has changed
// since), of the
// engine's own walk. Without the seed (the store failed) it fails: the
// published sampling is never a fallback.
func (e *Engine) fingerprint(ctx context.Context, t *policy.Transaction) (*Collector, error) {
	// Asked for every message, not only when there is no collector: the
	// seed is read again every SeedRecheck (one store round trip per
	// host then, none per message otherwise), and a collector started
	// under a seed the store has since replaced is walked again.
	seed, err := e.o.Seed.Get(ctx, e.o.Log)
	if err != nil {
		return nil, err
	}
	if c, ok := t.Value(collectorKey{}).(*Collector); ok && c.Complete() && c.seed == seed {
		return c, nil
	}
	c := NewCollector(recipientNames(t), seed)
	if _, err := mimewalk.Walk(ctx, t.Message, t.Message.Size(), e.o.Walk, func(it *mimewalk.Item) error {
		c.Item(it)
		return nil
	}); err != nil {
		return nil, err
	}
	c.Done()
	if !c.Complete() {
		return nil, fmt.Errorf("reading the message's parts failed")
	}
	return c, nil
}

// recipientNames are the words of t's recipients a mail merge puts in
// each copy: the envelope recipients' local parts and the display names
// (a person's: at most maxNameLen words) and local parts of To and Cc,
// at most maxNames words in that order. The text loses them wherever
// they stand: a run naming each copy's recipient by a fifth of the
// lure's own words ("To: \"verify your account today…\" <victim>")
// left its copies no shared passage, never found in 40 accounts (review
// r5a, TestReviewR5aDisplayNameWords).
func recipientNames(t *policy.Transaction) map[string]bool {
	var parts []string
	local := func(a string) {
		if l, _, ok := splitAddress(a); ok {
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
			if len(strings.Fields(a.Name)) <= maxNameLen {
				parts = append(parts, a.Name)
			}
			local(a.Address)
		}
	}
	out := map[string]bool{}
	for _, w := range nameWords(parts...) {
		if len(out) == maxNames {
			break
		}
		out[w] = true
	}
	return out
}

// maxNameLen and maxNames bound the recipients' words a copy's text
// loses: one recipient's full name and address ("Maria de la Cruz",
// maria.cruz@…) fits; a lure's words in display names do not.
const maxNameLen, maxNames = 4, 6

// subjectOf is t's decoded subject, at most 200 bytes of valid UTF-8: a
// sample for the abuse desk (shown escaped).
func subjectOf(t *policy.Transaction) string {
	s := subject(t)
	for len(s) > 200 {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// subject is t's Subject header decoded (RFC 2047), whole.
func subject(t *policy.Transaction) string {
	for _, h := range t.Headers {
		if strings.EqualFold(h.Name, "Subject") {
			s, err := new(mime.WordDecoder).DecodeHeader(h.Value)
			if err != nil {
				s = h.Value
			}
			return strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
		}
	}
	return ""
}
