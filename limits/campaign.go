package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/policy"
)

// SignalCampaign: the account sent copies of a campaign, one text sent by
// many accounts (campaign/).
const SignalCampaign = "campaign"

// CampaignCopy is one accepted message of an account with its
// fingerprint's keys (campaign.Fingerprint.Keys).
type CampaignCopy struct {
	Keys    []string
	Account string
	Host    string
	QueueID string
	Subject string // a sample for the abuse desk, bounded by the caller
	Time    time.Time
	// Bands: keys of text ("t…", LSH bands) match when this many agree
	// (quorum); an attachment's key weighs one band less: it matches
	// with at least one band of text.
	Bands int
	// Group is who the account counts as ("": itself): the accounts of
	// one group are one sender (campaign: one organisation's
	// auto-reply).
	Group string
	// Rcpts are the copy's recipients, hashed, at most MaxRcpts (the
	// lowest: campaign.rcptHashes keys them by the fleet's seed): a
	// campaign needs threshold groups that each reach a recipient of
	// their own (reach).
	Rcpts []string
	// Suspend: the copy's campaign suspends its senders. The senders are
	// marked pending in the same transaction, and CampaignResult.Pending
	// lists them until CampaignSuspended clears them: a suspension that
	// failed is retried with a later copy, on any host.
	Suspend bool
}

// MaxRcpts bounds the recipients kept per key and account: the lowest
// of those it reached since its list began, at most a window before
// (mergeRcpts, campMine).
const MaxRcpts = 16

// CampaignAccountsMax bounds the accounts CampaignByID reads: a
// campaign's evidence and its page stay bounded however many stolen
// accounts sent it (Campaign.Copies still counts them all).
const CampaignAccountsMax = 1000

// ViewCampaigns is how many of an account's campaigns AccountView lists.
const ViewCampaigns = 50

// sortedKeys are c's keys, sorted, each once: the order the locks are
// taken in.
func (c CampaignCopy) sortedKeys() []string {
	keys := slices.Clone(c.Keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// CampaignResult is what the store made of a copy.
type CampaignResult struct {
	ID string // the campaign the copy belongs to; "" none
	// Known: the campaign was established before this copy (the copy gets
	// campaign.action); otherwise this copy established it (New).
	Known bool
	New   bool
	// Accounts that sent the campaign within the window (ID != ""); of
	// a Known one the CampaignAccountsMax seen last.
	Accounts []string
	// Pending are senders of campaigns that suspend whose suspension is
	// not known done (CampaignCopy.Suspend), the oldest first, at most
	// maxPending.
	Pending []PendingSuspension
	// Unindexed: indexing a New campaign for its other senders (Redis'
	// second round trip, campaignReply) failed after the copy was
	// counted. The campaign stands (listed, its senders pending); only
	// accounts show of those senders misses it. For the log: failing the
	// message for it would tempfail a copy that was counted.
	Unindexed error
}

// PendingSuspension is a campaign's sender still to be suspended.
type PendingSuspension struct{ ID, Account string }

// maxPending bounds CampaignResult.Pending: a backlog is worked off a
// slice per copy.
const maxPending = 16

// Campaign is one text many accounts sent, for the abuse desk.
type Campaign struct {
	ID       string            `json:"id"` // the key that crossed
	First    time.Time         `json:"first"`
	Last     time.Time         `json:"last"`
	Copies   int               `json:"copies"` // copies seen since it was established, and those that established it
	Held     int               `json:"held"`   // copies that got campaign.action
	Subject  string            `json:"subject"`
	Accounts []CampaignAccount `json:"accounts,omitempty"`
	// Spared: the abuse desk's spare (campaignspare.go).
	Spared *Spare `json:"spared,omitempty"`
}

// CampaignAccount is an account that sent a campaign.
type CampaignAccount struct {
	Account string    `json:"account"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	Copies  int       `json:"copies"`
}

// CampaignStore counts campaigns: SQLStore and Redis implement it.
type CampaignStore interface {
	// CampaignCopy records c and tells whether it belongs to a campaign:
	// one of its keys is linked to a campaign seen within window (Known),
	// or, with c, one of its keys was sent by threshold distinct accounts
	// within window (New: the campaign is established with those
	// accounts). It runs under the locks of all of c's keys (or as one
	// Lua script): of two hosts adding the copy that crosses, one
	// establishes the campaign and the other's copy is Known.
	CampaignCopy(ctx context.Context, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error)
	// Campaigns lists at most limit campaigns seen at or after since,
	// newest first, without their accounts.
	Campaigns(ctx context.Context, since time.Time, limit int) ([]Campaign, error)
	// CampaignByID returns one campaign with its accounts (the
	// CampaignAccountsMax seen last); nil if unknown.
	CampaignByID(ctx context.Context, id string) (*Campaign, error)
	// AccountCampaigns lists at most limit campaigns account sent,
	// newest first.
	AccountCampaigns(ctx context.Context, account string, limit int) ([]Campaign, error)
	// CampaignSuspended records that the pending senders ps are
	// suspended (CampaignResult.Pending).
	CampaignSuspended(ctx context.Context, ps []PendingSuspension) error
	// SpareCampaign, UnspareCampaign, SparedAccount, UnlistSpared and TouchSpare keep
	// the abuse desk's spares (campaignspare.go; CampaignByID and
	// Campaigns read them, Campaign.Spared); CampaignSenders,
	// CampaignHasSender and LiftCampaign are the spare's reads and lifts.
	SpareCampaign(ctx context.Context, id, op string, now time.Time, accounts []string) error
	UnspareCampaign(ctx context.Context, id string) (bool, error)
	SparedAccount(ctx context.Context, id, account string, now time.Time, window time.Duration) (bool, error)
	UnlistSpared(ctx context.Context, id, account string) error
	TouchSpare(ctx context.Context, id, account string, now time.Time, window time.Duration) (bool, error)
	CampaignSenders(ctx context.Context, id string) ([]string, error)
	CampaignHasSender(ctx context.Context, id, account string) (bool, error)
	LiftCampaign(ctx context.Context, key, id string) (bool, error)
}

// campaignSchema is version 5 on both databases: campaign_keys holds which
// account sent which fingerprint key when, campaign_links which keys
// belong to an established campaign, campaigns and campaign_accounts the
// record the abuse desk reads.
const campaignSchema = `
CREATE TABLE IF NOT EXISTS campaign_keys (fkey TEXT NOT NULL, account TEXT NOT NULL, t BIGINT NOT NULL, PRIMARY KEY (fkey, account));
CREATE INDEX IF NOT EXISTS campaign_keys_t ON campaign_keys (t);
CREATE TABLE IF NOT EXISTS campaign_links (fkey TEXT PRIMARY KEY, id TEXT NOT NULL, t BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS campaign_links_t ON campaign_links (t);
CREATE TABLE IF NOT EXISTS campaigns (id TEXT PRIMARY KEY, t0 BIGINT NOT NULL, t BIGINT NOT NULL, copies BIGINT NOT NULL, held BIGINT NOT NULL, subject TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS campaigns_t ON campaigns (t);
CREATE TABLE IF NOT EXISTS campaign_accounts (id TEXT NOT NULL, account TEXT NOT NULL, t0 BIGINT NOT NULL, t BIGINT NOT NULL, copies BIGINT NOT NULL, PRIMARY KEY (id, account));
CREATE INDEX IF NOT EXISTS campaign_accounts_account ON campaign_accounts (account);
`

// campaignReachSchema is version 10 on both databases: per key and
// account the group it counts as and the recipients it reached (hashed,
// space-separated, at most MaxRcpts), and per campaign account whether
// its suspension is pending.
const campaignReachSchema = `
ALTER TABLE campaign_keys ADD COLUMN grp TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_keys ADD COLUMN rcpts TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_accounts ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS campaign_accounts_pending ON campaign_accounts (t) WHERE pending = 1;
`

// campaignKeyTTL is how long a key's senders are kept: the longest window
// the config allows.
const campaignKeyTTL = Day

// quorum is how a campaign is matched: keys of text ("t…") count when
// bands of them agree, an attachment's hash with at least one band of
// text. One band of a short text may hang on one common sentence
// ("please let me know if you have any questions"); several bands are
// most of the text. An attachment alone is a school's letter that every
// parent passes on, a price list every customer of a wholesaler
// forwards: what was written around it decides.
func quorum(keys []string, bands int) bool {
	w := 0
	for _, k := range keys {
		w += keyWeight(k, bands)
	}
	return w >= max(bands, 1)
}

// keyWeight is what a matching key adds toward the quorum of bands: a
// text key one, an archive's members ("a…") the quorum, a plain
// attachment one less.
func keyWeight(k string, bands int) int {
	switch {
	case strings.HasPrefix(k, "t"):
		return 1
	case strings.HasPrefix(k, "a"):
		return max(bands, 1)
	}
	return max(bands-1, 0)
}

// reachOf is one sender of a near-duplicate with the recipients it
// reached.
type reachOf struct {
	account, group string
	rcpts          map[string]bool
}

// reach reports whether the senders of a near-duplicate make a campaign
// by whom they reach: their groups matched to recipients of their own (a
// maximum matching, Kuhn's augmenting paths, stopping at need) are at
// least reachNeed. Customers each writing the same letter to their
// representative reach one recipient between them: one; a run spread
// over stolen accounts reaches each account's own victims, and copies
// that also go to one shared address do not hide that. A sender without
// recorded recipients reaches one of its own. Groups whose recorded
// recipients are the same set are one in the matching (schema 17): they
// spread nothing, they wrote to the same people. Twenty signers of a
// letter to a committee of five matched five; now they match one. Since
// schema 19 the core, the recipients every group reached (core), is
// dropped first: the sets are what each group reached beyond it. A group
// left with nothing still counts among the groups reachNeed weighs the
// spread against, but spreads nothing and is matched to nothing: it
// wrote to the people everyone wrote to. Signers who each add a friend,
// their MP or an optional Cc to the committee are then sets of those
// additions alone, which rarely make the threshold; the committee's five
// members no longer add five to the matching.
func reach(senders []reachOf, threshold int) bool {
	groups := map[string]map[string]bool{}
	for _, s := range senders {
		g := s.group
		if g == "" {
			g = "a:" + s.account
		}
		if groups[g] == nil {
			groups[g] = map[string]bool{}
		}
		for r := range s.rcpts {
			groups[g][r] = true
		}
		if len(s.rcpts) == 0 {
			groups[g]["own:"+s.account] = true
		}
	}
	// the core (schema 19): recipients reached by every group
	by := map[string]int{}
	for _, rs := range groups {
		for r := range rs {
			by[r]++
		}
	}
	hasCore := false
	for _, n := range by {
		hasCore = hasCore || core(n, len(groups), threshold)
	}
	// the groups of each recipient set left once the core is dropped,
	// the sets named by their sorted recipients; a group left with
	// nothing is in no set, and a set left with something reaches the
	// core as one recipient (coreRcpt)
	sets := map[string][]string{}
	ofSet := map[string]int{}
	for _, rs := range groups {
		var set []string
		for r := range rs {
			if !core(by[r], len(groups), threshold) {
				set = append(set, r)
			}
		}
		if len(set) == 0 {
			continue
		}
		if hasCore {
			set = append(set, coreRcpt)
		}
		slices.Sort(set)
		name := strings.Join(set, " ")
		sets[name] = set
		ofSet[name]++
	}
	spread := 0
	for _, n := range ofSet {
		if n == 1 {
			spread++
		}
	}
	need := reachNeed(len(groups), spread, threshold)
	order := slices.Sorted(maps.Keys(sets))
	owner := map[string]string{} // recipient -> set matched to it
	var try func(set string, seen map[string]bool) bool
	try = func(set string, seen map[string]bool) bool {
		for _, r := range sets[set] {
			if seen[r] {
				continue
			}
			seen[r] = true
			if o, ok := owner[r]; !ok || try(o, seen) {
				owner[r] = set
				return true
			}
		}
		return false
	}
	n := 0
	for _, set := range order {
		if n >= need {
			break
		}
		if try(set, map[string]bool{}) {
			n++
		}
	}
	return n >= need
}

// core reports whether a recipient reached by n of groups groups is of
// the core that reach drops before its matching (schema 19): reached by
// every group, and by at least threshold and two (a lone sender's
// recipients are its own, whatever the threshold). A petition's committee is its
// core: every signer wrote to it, and what is left of each is what it
// added of its own (a friend, its MP, an optional Cc), the shape that
// says whether the senders spread. Every group, not most: a run's
// victims are then core only when each of its accounts reached them,
// and a spear-phishing run whose every copy leaves out one of 20 staff
// is found as before (TestReachCoreDraws); with "all but a quarter" its
// victims became core as its accounts grew, and 415 of 1000 simulated
// draws were never found, against 5.
//
// The core stays one recipient to the groups that reached more
// (coreRcpt): dropped whole, a run whose every copy went to one company's
// 8 finance and executive staff and to a subset of its own of the other
// 4 was matched 4 at most and never found, where schema 18 found it at
// its fifth account (review r2, TestReviewR2RunWithAlwaysIncludedStaff);
// as one recipient it is matched 5. Four signers of a committee's
// petition who each Cc a friend are still 4 sets, matched 4.
func core(n, groups, threshold int) bool {
	return n == groups && n >= max(threshold, 2)
}

// coreRcpt names the core in a set (reach): no recipient token (hex),
// nor own:, and first in byte order, as on every store.
const coreRcpt = "*core"

// reachNeed is how many of a near-duplicate's recipient sets must be
// matched to recipients for a campaign (schema 17), of groups groups of
// senders, spread of which wrote to a set of recipients no other group
// wrote to: the threshold when those are at least half of the groups,
// else spread and threshold more (shared recipients alone must make the
// threshold). A petition that many customers send to their
// representative, a few of whom also send it to an address of their own
// (a copy to themselves, a friend), matches those few and the
// representative: with the threshold alone it was a campaign at the
// (threshold-1)th such signer, and every signer was suspended. A run
// whose every copy goes to victims of its own and one shared decoy has
// every group's set its own: the threshold; so has a spear-phishing run
// whose copies each go to a different few of one company's staff, though
// each of its victims is reached by several (schema 16 counted only the
// groups reaching a recipient nobody else reaches: such a run was found
// at its fifth account in 86% of draws, docs/suspension.md). To pass for
// a petition, a run of k accounts reaching victims needs k+1 more that
// send their copy to the same set of fewer than threshold shared
// addresses and nowhere else.
func reachNeed(groups, spread, threshold int) int {
	if 2*spread >= groups {
		return threshold
	}
	return spread + threshold
}

// mergeRcpts is the MaxRcpts lowest of the space-separated list old and
// add, sorted (bytewise, as the script's and og_merge_rcpts'): what an
// account reached with a key within the window. The lowest, not the
// first: a recipient's token is keyed by the fleet's seed
// (campaign.rcptHashes), so which are lowest is not the sender's to
// choose; the first were, and a run whose accounts each first sent one
// copy to the same 16 addresses recorded those alone (one set, never a
// campaign: TestReviewPrimedSetRun).
func mergeRcpts(old string, add []string) string {
	rs := append(strings.Fields(old), add...)
	slices.Sort(rs)
	rs = slices.Compact(rs)
	return strings.Join(rs[:min(len(rs), MaxRcpts)], " ")
}

// The statements of a copy (campaignIn, SQLite's; PostgreSQL's are
// og_campaign's, campaignpg.go), each of fixed text: the copy's keys are
// one parameter, a JSON array (KEYS($2): json_each), so that SQLite
// prepares each once (openSQL) rather than an IN list of the copy's
// arity per call.
const (
	// A linked key counts only if threshold ($4) senders sent it within
	// the window, this copy's included (account $3, group $5; counted
	// whether or not it sent the key before), the accounts of a group
	// one sender (CampaignCopy.Group): a key that joined the campaign
	// with the copies of fewer (a bot's copy with a customer's real text
	// appended) makes no copy Known, as it would establish no campaign
	// (campSenders).
	campLinked = `SELECT l.id, l.fkey FROM campaign_links l JOIN campaigns c ON c.id = l.id
		WHERE l.t >= $1 AND l.fkey IN KEYS($2)
		AND (SELECT COUNT(DISTINCT CASE WHEN k.grp = '' THEN 'a:' || k.account ELSE k.grp END) FROM campaign_keys k
			WHERE k.fkey = l.fkey AND k.t >= $1 AND k.account <> $3 AND ($5 = '' OR k.grp <> $5)) >= $4 - 1
		ORDER BY c.t0, l.id, l.fkey`
	// An account's list of a key merges the copies since it began (t0)
	// if that was within the window ($1; schema 20): a list that began
	// earlier starts again with the copy's recipients, t0 the copy's time
	// (campKeyUpsert, $6 the cutoff again). A row of 19 (t0 0) starts
	// again at its next copy.
	campMine      = `SELECT fkey, rcpts FROM campaign_keys WHERE t0 >= $1 AND fkey IN KEYS($2) AND account = $3`
	campKeyUpsert = `INSERT INTO campaign_keys (fkey, account, t, grp, rcpts, t0) VALUES ($1, $2, $3, $4, $5, $3)
		ON CONFLICT (fkey, account) DO UPDATE SET t = excluded.t, grp = excluded.grp, rcpts = excluded.rcpts,
		t0 = CASE WHEN campaign_keys.t0 >= $6 THEN campaign_keys.t0 ELSE excluded.t0 END WHERE excluded.t >= campaign_keys.t`
	// The accounts that sent a near-duplicate of a copy: those whose keys
	// agree with it on a quorum of bands (keyWeight: $3 the quorum, $4 an
	// attachment's weight).
	campSenders = `SELECT account, CAST(MAX(t) AS TEXT) FROM campaign_keys WHERE t >= $1 AND fkey IN KEYS($2)
		GROUP BY account HAVING SUM(CASE WHEN fkey LIKE 't%' THEN 1 WHEN fkey LIKE 'a%' THEN $3 ELSE $4 END) >= $3 ORDER BY MAX(t), account`
	campReach = `SELECT account, grp, rcpts FROM campaign_keys WHERE t >= $1 AND fkey IN KEYS($2)`
	// A campaign is named by its most widely sent key.
	campName = `SELECT fkey, '' FROM campaign_keys WHERE t >= $1 AND fkey IN KEYS($2)
		GROUP BY fkey ORDER BY COUNT(*) DESC, fkey LIMIT 1`
	campNew = `INSERT INTO campaigns (id, t0, t, copies, held, subject) VALUES ($1, $2, $2, $4, 0, $3)
		ON CONFLICT (id) DO UPDATE SET t = excluded.t, copies = campaigns.copies + excluded.copies`
	campOther = `INSERT INTO campaign_accounts (id, account, t0, t, copies, pending) VALUES ($1, $2, $3, $3, 1, $4)
		ON CONFLICT (id, account) DO UPDATE SET t = CASE WHEN excluded.t > campaign_accounts.t THEN excluded.t ELSE campaign_accounts.t END,
		pending = CASE WHEN excluded.pending = 1 THEN 1 ELSE campaign_accounts.pending END`
	campCopy   = `UPDATE campaigns SET t = $2, copies = copies + 1, held = held + $3 WHERE id = $1`
	campSender = `INSERT INTO campaign_accounts (id, account, t0, t, copies, pending) VALUES ($1, $2, $3, $3, 1, $4)
		ON CONFLICT (id, account) DO UPDATE SET t = excluded.t, copies = campaign_accounts.copies + 1,
		pending = CASE WHEN excluded.pending = 1 THEN 1 ELSE campaign_accounts.pending END`
	campLink = `INSERT INTO campaign_links (fkey, id, t) VALUES ($1, $2, $3)
		ON CONFLICT (fkey) DO UPDATE SET id = CASE WHEN campaign_links.t >= $4 THEN campaign_links.id ELSE excluded.id END, t = excluded.t`
	campAccounts = `SELECT account, '' FROM campaign_accounts WHERE id = $1 AND t >= $2 ORDER BY t DESC, account LIMIT $3`
	campPending  = `SELECT id, account FROM campaign_accounts WHERE pending = 1 ORDER BY t, id, account LIMIT $1`
)

// campaignStatements are prepared once on SQLite (openSQL).
var campaignStatements = []string{campLinked, campMine, campKeyUpsert, campTrim, campSenders, campReach, campName, campNew, campOther, campCopy, campSender, campLink, campAccounts, campPending}

// campaignSQL is q in SQLite's dialect.
func (s *SQLStore) campaignSQL(q string) string {
	return s.d.Rebind(strings.ReplaceAll(q, "KEYS($2)", "(SELECT value FROM json_each($2))"))
}

// txExec and txQuery run a prepared campaign statement in tx.
func (s *SQLStore) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) error {
	_, err := tx.StmtContext(ctx, s.stmts[q]).ExecContext(ctx, args...)
	return err
}

func (s *SQLStore) txQuery(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	return tx.StmtContext(ctx, s.stmts[q]).QueryContext(ctx, args...)
}

// CampaignCopy counts c in a transaction of its own: on PostgreSQL one
// call of og_campaign (campaignpg.go), which takes the locks of all of
// c's keys; on SQLite an IMMEDIATE transaction (the database's write
// lock). A message's copy is counted in CommitMessage instead
// (campaignfold.go).
func (s *SQLStore) CampaignCopy(ctx context.Context, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
	if len(c.Keys) == 0 {
		return CampaignResult{}, nil
	}
	if s.server {
		return s.pgCampaignCopy(ctx, c, window, threshold)
	}
	var res CampaignResult
	err := s.inTx(ctx, c.Account, func(tx *sql.Tx) (err error) {
		res, err = s.campaignIn(ctx, tx, c, window, threshold)
		return err
	})
	return res, err
}

// campaignIn is CampaignCopy's work on SQLite in tx, which holds the
// database's write lock (PostgreSQL's is og_campaign, campaignpg.go).
func (s *SQLStore) campaignIn(ctx context.Context, tx *sql.Tx, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
	var res CampaignResult
	keys := c.sortedKeys()
	if len(keys) == 0 {
		return res, nil
	}
	now, cutoff := ms(c.Time), ms(c.Time.Add(-window))
	kjs, err := json.Marshal(keys)
	if err != nil {
		return res, err
	}
	args := []any{cutoff, string(kjs)}
	linked, err := s.queryPairs(ctx, tx, campLinked, cutoff, string(kjs), c.Account, threshold, c.Group)
	if err != nil {
		return res, err
	}
	for i := 0; i < len(linked) && res.ID == ""; {
		j := i
		var ks []string
		for ; j < len(linked) && linked[j][0] == linked[i][0]; j++ {
			ks = append(ks, linked[j][1])
		}
		if quorum(ks, c.Bands) {
			res.ID, res.Known = linked[i][0], true
		}
		i = j
	}
	// The recipients this account reached with each key since its list
	// began, if within the window, this copy's added.
	mine, err := s.queryPairs(ctx, tx, campMine, cutoff, string(kjs), c.Account)
	if err != nil {
		return res, err
	}
	old := map[string]string{}
	for _, p := range mine {
		old[p[0]] = p[1]
	}
	for _, k := range keys {
		if err := s.txExec(ctx, tx, campKeyUpsert, k, c.Account, now, c.Group, mergeRcpts(old[k], c.Rcpts), cutoff); err != nil {
			return res, err
		}
	}
	if err := s.txExec(ctx, tx, campTrim, keySenders(s.ksend), string(kjs)); err != nil {
		return res, err
	}
	if !res.Known {
		// The accounts that sent a near-duplicate of this copy: those
		// whose keys agree with it on a quorum of bands (or one
		// attachment). Counting each key's senders alone would join
		// messages that share a band each with a different other one.
		senders, err := s.queryPairs(ctx, tx, campSenders, cutoff, string(kjs), max(c.Bands, 1), keyWeight("f", c.Bands))
		if err != nil {
			return res, err
		}
		if len(senders) < threshold {
			return res, s.pending(ctx, tx, &res)
		}
		if ok, err := s.reaches(ctx, tx, senders, args, threshold); err != nil || !ok {
			if err != nil {
				return res, err
			}
			return res, s.pending(ctx, tx, &res)
		}
		name, err := s.queryPairs(ctx, tx, campName, args...)
		if err != nil {
			return res, err
		}
		if len(name) == 0 {
			return res, fmt.Errorf("campaign: no key of the copy is recorded")
		}
		res.ID, res.New = name[0][0], true
		// The copy that crosses is not held: it is counted as one of
		// those that established the campaign.
		others := 0
		for _, x := range senders {
			if x[0] != c.Account {
				others++
			}
		}
		if err := s.txExec(ctx, tx, campNew, res.ID, now, c.Subject, others); err != nil {
			return res, err
		}
		for _, x := range senders {
			res.Accounts = append(res.Accounts, x[0])
			if x[0] == c.Account {
				continue
			}
			t, _ := strconv.ParseInt(x[1], 10, 64)
			if err := s.txExec(ctx, tx, campOther, res.ID, x[0], t, flag(c.Suspend)); err != nil {
				return res, err
			}
		}
	}
	held := 0
	if res.Known {
		held = 1
	}
	if err := s.txExec(ctx, tx, campCopy, res.ID, now, held); err != nil {
		return res, err
	}
	if err := s.txExec(ctx, tx, campSender, res.ID, c.Account, now, flag(c.Suspend)); err != nil {
		return res, err
	}
	// Every key of a copy joins the campaign: a copy varied enough to
	// share some bands with it brings its other bands along, which count
	// once as many accounts sent them as establish a campaign (campLinked).
	for _, k := range keys {
		if err := s.txExec(ctx, tx, campLink, k, res.ID, now, cutoff); err != nil {
			return res, err
		}
	}
	if res.Known {
		accts, err := s.queryPairs(ctx, tx, campAccounts, res.ID, cutoff, CampaignAccountsMax)
		if err != nil {
			return res, err
		}
		for _, a := range accts {
			res.Accounts = append(res.Accounts, a[0])
		}
	}
	return res, s.pending(ctx, tx, &res)
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reaches reports whether the senders of a near-duplicate (account, last
// ms) make a campaign by whom they reach (reach), from the groups
// and recipients recorded with the copy's keys (args: the cutoff and the
// keys).
func (s *SQLStore) reaches(ctx context.Context, tx *sql.Tx, senders [][2]string, args []any, threshold int) (bool, error) {
	rows, err := s.txQuery(ctx, tx, campReach, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	by := map[string]*reachOf{}
	for _, x := range senders {
		by[x[0]] = &reachOf{account: x[0], rcpts: map[string]bool{}}
	}
	for rows.Next() {
		var a, g, rs string
		if err := rows.Scan(&a, &g, &rs); err != nil {
			return false, err
		}
		if r := by[a]; r != nil {
			r.group = max(r.group, g)
			for _, x := range strings.Fields(rs) {
				r.rcpts[x] = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	list := make([]reachOf, 0, len(by))
	for _, r := range by {
		list = append(list, *r)
	}
	return reach(list, threshold), nil
}

// pending reads the pending suspensions into res.
func (s *SQLStore) pending(ctx context.Context, tx *sql.Tx, res *CampaignResult) error {
	ps, err := s.queryPairs(ctx, tx, campPending, maxPending)
	if err != nil {
		return err
	}
	for _, p := range ps {
		res.Pending = append(res.Pending, PendingSuspension{ID: p[0], Account: p[1]})
	}
	return nil
}

func (s *SQLStore) CampaignSuspended(ctx context.Context, ps []PendingSuspension) error {
	for _, p := range ps {
		if _, err := s.exec(ctx, s.db, `UPDATE campaign_accounts SET pending = 0 WHERE id = $1 AND account = $2`, p.ID, p.Account); err != nil {
			return err
		}
	}
	return nil
}

// queryPairs runs a campaign query of two text columns in tx.
func (s *SQLStore) queryPairs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([][2]string, error) {
	rows, err := s.txQuery(ctx, tx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *SQLStore) campaigns(ctx context.Context, q string, args ...any) ([]Campaign, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		var c Campaign
		var t0, t int64
		var st, last sql.NullInt64
		var op sql.NullString
		if err := rows.Scan(&c.ID, &t0, &t, &c.Copies, &c.Held, &c.Subject, &st, &op, &last); err != nil {
			return nil, err
		}
		c.First, c.Last = fromMS(t0), fromMS(t)
		if st.Valid {
			c.Spared = &Spare{At: fromMS(st.Int64), By: op.String, Last: fromMS(last.Int64)}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *SQLStore) Campaigns(ctx context.Context, since time.Time, limit int) ([]Campaign, error) {
	return s.campaigns(ctx, `SELECT c.id, c.t0, c.t, c.copies, c.held, c.subject, s.t, s.op, s.last FROM campaigns c LEFT JOIN campaign_spared s ON s.id = c.id
		WHERE c.t >= $1 ORDER BY c.t DESC, c.id LIMIT $2`, ms(since), limit)
}

func (s *SQLStore) CampaignByID(ctx context.Context, id string) (*Campaign, error) {
	cs, err := s.campaigns(ctx, `SELECT c.id, c.t0, c.t, c.copies, c.held, c.subject, s.t, s.op, s.last FROM campaigns c LEFT JOIN campaign_spared s ON s.id = c.id
		WHERE c.id = $1`, id)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	c := &cs[0]
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT account, t0, t, copies FROM campaign_accounts WHERE id = $1 ORDER BY t DESC, account LIMIT $2`), id, CampaignAccountsMax)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a CampaignAccount
		var t0, t int64
		if err := rows.Scan(&a.Account, &t0, &t, &a.Copies); err != nil {
			return nil, err
		}
		a.First, a.Last = fromMS(t0), fromMS(t)
		c.Accounts = append(c.Accounts, a)
	}
	sortAccounts(c.Accounts)
	return c, rows.Err()
}

// sortAccounts orders a campaign's accounts by first copy.
func sortAccounts(as []CampaignAccount) {
	slices.SortFunc(as, func(a, b CampaignAccount) int {
		if d := a.First.Compare(b.First); d != 0 {
			return d
		}
		return strings.Compare(a.Account, b.Account)
	})
}

func (s *SQLStore) AccountCampaigns(ctx context.Context, account string, limit int) ([]Campaign, error) {
	return s.campaigns(ctx, `SELECT c.id, c.t0, c.t, c.copies, c.held, c.subject, s.t, s.op, s.last FROM campaigns c JOIN campaign_accounts a ON a.id = c.id
		LEFT JOIN campaign_spared s ON s.id = c.id WHERE a.account = $1 ORDER BY c.t DESC, c.id LIMIT $2`, account, limit)
}

// purgeCampaigns forgets keys older than the longest window and
// campaigns older than the evidence's retention.
func (s *SQLStore) purgeCampaigns(ctx context.Context, now time.Time) error {
	for _, q := range []struct {
		sql string
		t   time.Time
	}{
		{`DELETE FROM campaign_keys WHERE t < $1`, now.Add(-campaignKeyTTL)},
		{`DELETE FROM campaign_links WHERE t < $1`, now.Add(-campaignKeyTTL)},
		{`DELETE FROM campaign_accounts WHERE id IN (SELECT id FROM campaigns WHERE t < $1)`, now.Add(-recordTTL)},
		{`DELETE FROM campaigns WHERE t < $1`, now.Add(-recordTTL)},
		// A spare with its campaign (its accounts first: they are found by
		// the spare's row).
		{`DELETE FROM campaign_spared_accounts WHERE id IN (SELECT id FROM campaign_spared WHERE t <= $1 AND id NOT IN (SELECT id FROM campaigns))`, now},
		{`DELETE FROM campaign_spared WHERE t <= $1 AND id NOT IN (SELECT id FROM campaigns)`, now},
	} {
		if _, err := s.exec(ctx, s.db, q.sql, ms(q.t)); err != nil {
			return err
		}
	}
	return nil
}

// campaignScript is CampaignCopy on Redis, atomic as one script. Every
// key is under campPrefix, whose hash tag puts them in one Redis Cluster
// slot (one script may only touch one slot), and every key it touches is
// declared in KEYS, as a Cluster requires:
// P+"ck:"+key for each key (sorted set account -> last ms, the
// CampaignKeySenders most recent), then
// P+"cl:"+key for each (string: "campaign id|ms linked", expiring after
// the window), then P+"cr:"+key for each (hash account -> "group|hashed
// recipients", the reach, and account.."\n" -> ms the list began: its
// t0 of schema 20), then P+"pend" (sorted set "id\naccount" ->
// ms: pending suspensions), P+"camps" (sorted set id -> last ms),
// P+"acamp:"+account (sorted set id -> last ms: the campaigns the account
// sent), then for each campaign the copy may belong to (the campaigns
// its keys link to, its own keys) P+"camp:"+id (hash t0, t, copies,
// held, subject), P+"campa:"+id (sorted set account -> last ms) and
// P+"campac:"+id (hash account -> "first:copies"). Keys that link to a
// campaign not declared make the script return "!retry" and the ids
// before it writes anything (campaignKeys). The other senders' P+"acamp:" entries of a
// campaign established are added by the caller after it.
// ARGV: now, cutoff, threshold, account, subject, window ms, retention ms,
// bands (CampaignCopy.Bands), group, suspend (0/1), recipients (space-
// separated), most recipients kept, most pending returned, most accounts
// returned, the prefix P, the number of keys, the most senders kept per
// key (CampaignKeySenders).
// Returns {id, known (0/1), new (0/1), number of accounts, account...,
// pending "id\naccount"...}.
var campaignScript = redis.NewScript("local dry = false\n" + campaignLua)

// campaignLua is campaignScript's body; with dry it returns after the
// links' check, before it writes anything (admitCampaignScript).
const campaignLua = `
local now, cutoff, threshold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local account, subject, window, keep = ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local bands = tonumber(ARGV[8])
local group, suspend, maxr, maxp, maxa = ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local P, n, ksend = ARGV[15], tonumber(ARGV[16]), tonumber(ARGV[17])
local pend, camps, myacamp = KEYS[3*n+1], KEYS[3*n+2], KEYS[3*n+3]
local declared = {}
for _, k in ipairs(KEYS) do declared[k] = true end
local mine = {}
for r in string.gmatch(ARGV[11], '%S+') do mine[#mine+1] = r end
local function bytewise(a, b)
  for j = 1, math.min(#a, #b) do
    local x, y = string.byte(a, j), string.byte(b, j)
    if x ~= y then return x < y end
  end
  return #a < #b
end
-- the fields of accounts as[j..k] in a key's P.."cr:" hash: each one's
-- reach and the time its list began (t0)
local function withT0(as, j, k)
  local f = {}
  for x = j, k do f[#f+1] = as[x]; f[#f+1] = as[x] .. '\n' end
  return f
end
-- keyWeight: a band 1, an archive's members the quorum, an attachment
-- one band less
local function weight(k)
  local p = string.sub(k, 1, 1)
  if p == 't' then return 1 end
  if p == 'a' then return math.max(bands, 1) end
  return math.max(bands - 1, 0)
end
-- reach: whether at least reachNeed recipient sets are matched to
-- recipients, the groups of one set one (the Go reach)
local function reach(list, need)
  local groups, ng = {}, 0
  for _, s in ipairs(list) do
    local g = s[2]
    if g == '' then g = 'a:' .. s[1] end
    if not groups[g] then groups[g] = {}; ng = ng + 1 end
    local any = false
    for r in pairs(s[3]) do groups[g][r] = true; any = true end
    if not any then groups[g]['own:' .. s[1]] = true end
  end
` + campaignReachSets + `
  table.sort(order)
  local spread = 0
  for _, c in pairs(of) do
    if c == 1 then spread = spread + 1 end
  end
  if 2 * spread < ng then need = spread + need end
  local owner = {}
  local function try(set, seen)
    for _, r in ipairs(sets[set]) do
      if not seen[r] then
        seen[r] = true
        if not owner[r] or try(owner[r], seen) then owner[r] = set; return true end
      end
    end
    return false
  end
  local m = 0
  for _, set in ipairs(order) do
    if m >= need then break end
    if try(set, {}) then m = m + 1 end
  end
  return m >= need
end
local function pending(out)
  redis.call('ZREMRANGEBYSCORE', pend, '-inf', '(' .. (now - keep))
  for _, p in ipairs(redis.call('ZRANGE', pend, 0, maxp - 1)) do out[#out+1] = p end
  return out
end
-- quorum: the text keys of one campaign count when bands of them agree,
-- any other key alone (CampaignStore's Go quorum).
local function quorum(ks)
  local w = 0
  for _, k in ipairs(ks) do w = w + weight(k) end
  return w >= math.max(bands, 1)
end
local byid, order = {}, {}
-- a link is "id|ms linked": one older than the window is no link (its
-- expiry only cleans up; the clock is the callers')
local function link(i)
  local v = redis.call('GET', KEYS[n+i])
  if not v then return false end
  local l, t = string.match(v, '^(.*)|(%d+)$')
  if not l or tonumber(t) < cutoff then return false end
  return l
end
-- whether key i counts toward a campaign it links to: threshold senders
-- sent it within the window, this copy's included, the accounts of a
-- group one (campLinked)
local function widely(i)
  local seen, c = {}, 0
  for _, a in ipairs(redis.call('ZRANGE', KEYS[i], cutoff, '+inf', 'BYSCORE')) do
    if c >= threshold - 1 then break end
    local g = string.match(redis.call('HGET', KEYS[2*n+i], a) or '', '^(.-)|') or ''
    if a ~= account and (group == '' or g ~= group) then
      if g == '' then g = 'a:' .. a end
      if not seen[g] then seen[g] = true; c = c + 1 end
    end
  end
  return c >= threshold - 1
end
-- the campaigns the keys link to that the caller did not declare:
-- nothing is written yet, the caller declares them and runs again
local need = {'!retry'}
for i = 1, n do
  local l = link(i)
  if l and not declared[P .. 'camp:' .. l] then need[#need+1] = l end
end
if #need > 1 or dry then return need end
for i = 1, n do
  local l = link(i)
  if l and widely(i) then
    if not byid[l] then
      byid[l] = {}
      order[#order+1] = {l, tonumber(redis.call('HGET', P .. 'camp:' .. l, 't0') or '0')}
    end
    table.insert(byid[l], string.sub(KEYS[i], #P + 4))
  end
end
table.sort(order, function(a, b) return a[2] < b[2] or (a[2] == b[2] and a[1] < b[1]) end)
local id = false
for _, o in ipairs(order) do
  if quorum(byid[o[1]]) then id = o[1]; break end
end
local known = id and 1 or 0
local score, top, topn = {}, false, -1
for i = 1, n do
  local cr = KEYS[2*n+i]
  -- this account's recipients with the key since its list began (t0),
  -- if within the window, and this copy's, the lowest maxr (mergeRcpts);
  -- a list that began earlier starts again, t0 now (campMine); one a
  -- host of 19 wrote has no t0 and starts again too
  local rs, seen = {}, {}
  local last = tonumber(redis.call('ZSCORE', KEYS[i], account) or '0')
` + campaignT0Began + `
    local old = redis.call('HGET', cr, account)
    if old then
      for r in string.gmatch(string.match(old, '|(.*)$') or '', '%S+') do rs[#rs+1] = r; seen[r] = true end
    end
` + campaignT0Restart + `
  for _, r in ipairs(mine) do
    if not seen[r] then rs[#rs+1] = r; seen[r] = true end
  end
  -- bytewise, as Go and COLLATE "C": Lua's < is strcoll, and Redis
  -- takes LC_COLLATE from its environment
  table.sort(rs, bytewise)
  for j = #rs, maxr + 1, -1 do rs[j] = nil end
  local gone = redis.call('ZRANGE', KEYS[i], '-inf', '(' .. cutoff, 'BYSCORE')
  if #gone > 0 then redis.call('HDEL', cr, unpack(` + campaignT0Gone + `)) end
  redis.call('HSET', cr, account, group .. '|' .. table.concat(rs, ' ')` + campaignT0Set + `)
  redis.call('PEXPIRE', cr, window)
  redis.call('ZADD', KEYS[i], 'GT', now, account)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. cutoff)
  -- the most recent ksend senders are kept (CampaignKeySenders), their
  -- reach with them; unpack takes a few thousand at once
  local over = redis.call('ZRANGE', KEYS[i], 0, -(ksend + 1))
` + campaignT0Over + `
  if #over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(ksend + 1)) end
  redis.call('PEXPIRE', KEYS[i], window)
  local k = string.sub(KEYS[i], #P + 4)
  local w = weight(k)
  local s = redis.call('ZRANGE', KEYS[i], '-inf', '+inf', 'BYSCORE', 'WITHSCORES')
  for j = 1, #s, 2 do
    local e = score[s[j]]
    if not e then e = {0, 0}; score[s[j]] = e end
    e[1] = e[1] + w
    e[2] = math.max(e[2], tonumber(s[j+1]))
  end
  if #s / 2 > topn or (#s / 2 == topn and k < top) then top, topn = k, #s / 2 end
end
local newc = 0
local senders = {}
if not id then
  -- the accounts that sent a near-duplicate: a quorum of bands (or an
  -- attachment) agree with this copy (the SQL stores' query)
  local sim = {}
  for a, e in pairs(score) do
    if e[1] >= math.max(bands, 1) then sim[#sim+1] = {a, e[2]} end
  end
  if #sim < threshold then return pending({'', 0, 0, 0}) end
  -- their groups and recipients over the copy's keys
  local list = {}
  for _, x in ipairs(sim) do
    local e = {x[1], '', {}}
    for i = 1, n do
      local v = redis.call('HGET', KEYS[2*n+i], x[1])
      if v then
        local g, rs = string.match(v, '^(.-)|(.*)$')
        if g and g > e[2] then e[2] = g end
        for r in string.gmatch(rs or '', '%S+') do e[3][r] = true end
      end
    end
    list[#list+1] = e
  end
  if not reach(list, threshold) then return pending({'', 0, 0, 0}) end
  table.sort(sim, function(x, y) return x[2] < y[2] or (x[2] == y[2] and x[1] < y[1]) end)
  id, newc = top, 1
  local ca, cc = P .. 'campa:' .. id, P .. 'campac:' .. id
  if redis.call('EXISTS', P .. 'camp:' .. id) == 0 then
    redis.call('HSET', P .. 'camp:' .. id, 't0', now, 't', now, 'copies', 0, 'held', 0, 'subject', subject)
  end
  for _, x in ipairs(sim) do
    senders[#senders+1] = x[1]
    if x[1] ~= account then
      redis.call('HINCRBY', P .. 'camp:' .. id, 'copies', 1)
      redis.call('ZADD', ca, 'GT', x[2], x[1])
      if redis.call('HSETNX', cc, x[1], string.format('%d', x[2]) .. ':1') == 0 then
        local f, c = string.match(redis.call('HGET', cc, x[1]), '^(%d+):(%d+)$')
        redis.call('HSET', cc, x[1], f .. ':' .. c)
      end
      if suspend == 1 then redis.call('ZADD', pend, 'NX', now, id .. '\n' .. x[1]) end
    end
  end
end
if suspend == 1 then redis.call('ZADD', pend, 'NX', now, id .. '\n' .. account) end
local camp = P .. 'camp:' .. id
redis.call('HSET', camp, 't', now)
redis.call('HINCRBY', camp, 'copies', 1)
redis.call('HINCRBY', camp, 'held', known)
redis.call('PEXPIRE', camp, keep)
local ca, cc = P .. 'campa:' .. id, P .. 'campac:' .. id
redis.call('ZADD', ca, now, account)
local old = redis.call('HGET', cc, account)
if old then
  local f, c = string.match(old, '^(%d+):(%d+)$')
  redis.call('HSET', cc, account, f .. ':' .. (tonumber(c) + 1))
else
  redis.call('HSET', cc, account, now .. ':1')
end
redis.call('PEXPIRE', ca, keep)
redis.call('PEXPIRE', cc, keep)
redis.call('ZADD', myacamp, now, id)
redis.call('PEXPIRE', myacamp, keep)
redis.call('ZADD', camps, now, id)
redis.call('ZREMRANGEBYSCORE', camps, '-inf', '(' .. (now - keep))
for i = 1, n do
  local l = link(i) or id
  redis.call('SET', KEYS[n+i], l .. '|' .. ARGV[1], 'PX', window)
end
local out = {id, known, newc, 0}
if known == 1 then
  for _, a in ipairs(redis.call('ZRANGE', ca, '+inf', cutoff, 'BYSCORE', 'REV', 'LIMIT', 0, maxa)) do out[#out+1] = a end
else
  for _, a in ipairs(senders) do out[#out+1] = a end
end
out[4] = #out - 4
return pending(out)`

// campaignLua's pieces below are the parts a schema changed: a test
// builds the script of an older schema by swapping a piece for the old
// one (export_campaignsets_test.go), so the rest is written once.

// campaignReachSets is reach's recipient sets of the groups, the core
// dropped (schema 19).
const campaignReachSets = `  -- the core dropped (core): reached by every group, and by at least
  -- threshold and two; a group left with nothing is in no set
  local by = {}
  for _, rs in pairs(groups) do
    for r in pairs(rs) do by[r] = (by[r] or 0) + 1 end
  end
  local hascore = false
  for _, n in pairs(by) do
    if n == ng and n >= math.max(need, 2) then hascore = true end
  end
  local sets, of, order = {}, {}, {}
  for _, rs in pairs(groups) do
    local set = {}
    for r in pairs(rs) do
      if not (by[r] == ng and by[r] >= math.max(need, 2)) then set[#set+1] = r end
    end
    if #set > 0 then
      -- the core as one recipient of a set left with something (coreRcpt)
      if hascore then set[#set+1] = '*core' end
      table.sort(set, bytewise)
      local name = table.concat(set, ' ')
      if not sets[name] then sets[name] = set; of[name] = 0; order[#order+1] = name end
      of[name] = of[name] + 1
    end
  end`

// campaignT0Began to campaignT0Over are the t0 of schema 20: an
// account's list is merged only if it began within the window
// (campaignT0Began), else starts again (campaignT0Restart); its t0 field
// goes with its reach when it expires (campaignT0Gone) or is dropped
// (campaignT0Over, half as many accounts a call: two fields each), and
// is written with it (campaignT0Set).
const campaignT0Began = `  local t0 = tonumber(redis.call('HGET', cr, account .. '\n') or '0')
  if last >= cutoff and t0 >= cutoff then`

const campaignT0Restart = `  else
    t0 = now
  end`

const campaignT0Gone = `withT0(gone, 1, #gone)`

const campaignT0Set = `, account .. '\n', t0`

const campaignT0Over = `  for j = 1, #over, 500 do redis.call('HDEL', cr, unpack(withT0(over, j, math.min(j + 499, #over)))) end`

func (r *Redis) CampaignCopy(ctx context.Context, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
	if len(c.Keys) == 0 {
		return CampaignResult{}, nil
	}
	return r.campaignCopyBy(ctx, campaignScript, c, window, threshold)
}

// campaignCopyBy counts c with script s: campaignScript, or an older
// schema's in the rolling-upgrade tests.
func (r *Redis) campaignCopyBy(ctx context.Context, s *redis.Script, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
	v, err := r.runCampaign(ctx, c, func(ck []string, ca []any) ([]any, error) {
		return s.Run(ctx, r.c, ck, ca...).Slice()
	}, window, threshold)
	if err != nil {
		return CampaignResult{}, err
	}
	return r.campaignReply(ctx, c, v)
}

// runCampaign runs a script counting c (KEYS and ARGV campaignScript's,
// run adds its own before or after them) until it stops asking for
// campaigns to declare ("!retry"), and returns its reply.
func (r *Redis) runCampaign(ctx context.Context, c CampaignCopy, run func(keys []string, args []any) ([]any, error), window time.Duration, threshold int) ([]any, error) {
	keys := c.sortedKeys()
	ids := slices.Clone(keys)
	for try := 0; ; try++ {
		rk := campaignKeys(c.Account, keys, ids)
		v, err := run(rk, []any{ms(c.Time), ms(c.Time.Add(-window)), threshold, c.Account, c.Subject, window.Milliseconds(), recordTTL.Milliseconds(), c.Bands,
			c.Group, flag(c.Suspend), strings.Join(c.Rcpts, " "), MaxRcpts, maxPending, CampaignAccountsMax, campPrefix, len(keys), keySenders(r.ksend)})
		if err != nil {
			return nil, err
		}
		if len(v) == 0 || v[0] != "!retry" {
			return v, nil
		}
		if try == 3 {
			return nil, fmt.Errorf("campaign script: the copy's campaign links kept changing")
		}
		for _, id := range v[1:] {
			s, _ := id.(string)
			ids = append(ids, s)
		}
	}
}

// campaignReply decodes campaignLua's reply for c, and indexes a
// campaign established by c for its other senders.
func (r *Redis) campaignReply(ctx context.Context, c CampaignCopy, v []any) (CampaignResult, error) {
	var res CampaignResult
	if len(v) < 4 {
		return res, fmt.Errorf("campaign script: %d values", len(v))
	}
	res.ID, _ = v[0].(string)
	res.Known = v[1] == int64(1)
	res.New = v[2] == int64(1)
	na, _ := v[3].(int64)
	if int(na) > len(v)-4 || na < 0 {
		return res, fmt.Errorf("campaign script: %d accounts of %d values", na, len(v))
	}
	for i, a := range v[4:] {
		s, _ := a.(string)
		if i < int(na) {
			res.Accounts = append(res.Accounts, s)
			continue
		}
		id, acct, _ := strings.Cut(s, "\n")
		res.Pending = append(res.Pending, PendingSuspension{ID: id, Account: acct})
	}
	if res.New {
		// The other senders' lists, each its own key (not knowable before
		// the script): the campaign stands without them, they index it
		// for accounts show. One more round trip, once per campaign,
		// after the copy was counted: its failure is Unindexed, not an
		// error of the count.
		p := r.c.Pipeline()
		for _, a := range res.Accounts {
			if a != c.Account {
				p.ZAdd(ctx, campPrefix+"acamp:"+a, redis.Z{Score: float64(ms(c.Time)), Member: res.ID})
				p.PExpire(ctx, campPrefix+"acamp:"+a, recordTTL)
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			res.Unindexed = err
		}
	}
	return res, nil
}

// campPrefix is the campaign keys' prefix on Redis: its hash tag ({camp})
// keeps them in one Cluster slot.
const campPrefix = "og:{camp}:"

// campaignKeys are campaignScript's KEYS for a copy of account with keys
// that may belong to the campaigns ids: first its own keys (the id of
// one it establishes, and of most it joins: a campaign is named by one
// of its keys); the script names the others its keys link to, and the
// call is made again with them (one round trip but for copies of a
// campaign that share none of the keys it is named by).
func campaignKeys(account string, keys, ids []string) []string {
	rk := make([]string, 0, 3*len(keys)+3+3*len(ids))
	for _, p := range []string{"ck:", "cl:", "cr:"} {
		for _, k := range keys {
			rk = append(rk, campPrefix+p+k)
		}
	}
	rk = append(rk, campPrefix+"pend", campPrefix+"camps", campPrefix+"acamp:"+account)
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		rk = append(rk, campPrefix+"camp:"+id, campPrefix+"campa:"+id, campPrefix+"campac:"+id)
	}
	return rk
}

func (r *Redis) CampaignSuspended(ctx context.Context, ps []PendingSuspension) error {
	if len(ps) == 0 {
		return nil
	}
	m := make([]any, len(ps))
	for i, p := range ps {
		m[i] = p.ID + "\n" + p.Account
	}
	return r.c.ZRem(ctx, campPrefix+"pend", m...).Err()
}

func (r *Redis) campaign(ctx context.Context, id string) (*Campaign, error) {
	// The fields by name: a spared campaign's hash holds an "spa:" field
	// per spared account besides (campaignspare.go).
	v, err := r.c.HMGet(ctx, campPrefix+"camp:"+id, "t0", "t", "copies", "held", "subject", "spared", "sparelast").Result()
	if err != nil || v[0] == nil {
		return nil, err
	}
	str := func(i int) string { s, _ := v[i].(string); return s }
	num := func(i int) int64 { n, _ := strconv.ParseInt(str(i), 10, 64); return n }
	c := &Campaign{ID: id, First: fromMS(num(0)), Last: fromMS(num(1)), Copies: int(num(2)), Held: int(num(3)), Subject: str(4)}
	if v[5] != nil {
		if c.Spared, err = decodeSpare(str(5), str(6)); err != nil {
			return nil, fmt.Errorf("campaign %s: its spare: %w", id, err)
		}
	}
	return c, nil
}

func (r *Redis) campaignsOf(ctx context.Context, set string, since time.Time, limit int) ([]Campaign, error) {
	ids, err := r.c.ZRevRangeByScore(ctx, set, &redis.ZRangeBy{Min: strconv.FormatInt(ms(since), 10), Max: "+inf", Count: int64(limit)}).Result()
	if err != nil {
		return nil, err
	}
	var out []Campaign
	for _, id := range ids {
		c, err := r.campaign(ctx, id)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, *c)
		}
	}
	return out, nil
}

func (r *Redis) Campaigns(ctx context.Context, since time.Time, limit int) ([]Campaign, error) {
	return r.campaignsOf(ctx, campPrefix+"camps", since, limit)
}

func (r *Redis) AccountCampaigns(ctx context.Context, account string, limit int) ([]Campaign, error) {
	return r.campaignsOf(ctx, campPrefix+"acamp:"+account, time.Time{}, limit)
}

func (r *Redis) CampaignByID(ctx context.Context, id string) (*Campaign, error) {
	c, err := r.campaign(ctx, id)
	if err != nil || c == nil {
		return c, err
	}
	accts, err := r.c.ZRevRangeWithScores(ctx, campPrefix+"campa:"+id, 0, CampaignAccountsMax-1).Result()
	if err != nil {
		return nil, err
	}
	firsts, err := r.c.HGetAll(ctx, campPrefix+"campac:"+id).Result()
	if err != nil {
		return nil, err
	}
	for _, z := range accts {
		a := CampaignAccount{Account: z.Member.(string), Last: fromMS(int64(z.Score))}
		f, n, _ := strings.Cut(firsts[a.Account], ":")
		t0, _ := strconv.ParseInt(f, 10, 64)
		a.First = fromMS(t0)
		a.Copies, _ = strconv.Atoi(n)
		c.Accounts = append(c.Accounts, a)
	}
	sortAccounts(c.Accounts)
	return c, nil
}

// SuspendCampaign suspends account for sending campaign c (with the
// campaign as evidence), as the other signals suspend (suspendOn): the
// suspension already in force stands, the abuse desk is alerted once.
func (e *Engine) SuspendCampaign(ctx context.Context, account string, c Campaign, now time.Time) (*Suspension, error) {
	js, _ := json.Marshal(c.Accounts)
	s := Suspension{
		Key: account, Since: now, By: "milterd", Signal: SignalCampaign,
		Sightings: []Sighting{{Signal: SignalCampaign, Value: c.ID, First: c.First, Last: c.Last, Detail: fmt.Sprintf("subject %q; accounts %s", c.Subject, js)}},
		Reason:    fmt.Sprintf("sent campaign %s, sent by %d accounts (subject %q)", c.ID, len(c.Accounts), c.Subject),
	}
	return e.suspendSignal(ctx, &s, now)
}

// AlertCampaign tells the abuse desk of a new campaign (event
// "campaign"), through the alert channels of the suspensions, once for
// the fleet until until (FireOnce): the copy that established it sends
// it, or, when that copy's answer was lost, the copy that finishes its
// senders' pending suspensions (campaign/).
func (e *Engine) AlertCampaign(c Campaign, until time.Time) {
	e.Log.Warn("campaign across accounts", "campaign", c.ID, "accounts", len(c.Accounts), "subject", c.Subject)
	e.Alert.FireOnce("campaign "+c.ID, until, Alert{Event: "campaign", Campaign: &c})
}

// AccountOf is the account t is counted against: the one its MAIL FROM
// began with, or (keyed by a header) the one its end names.
func (e *Engine) AccountOf(t *policy.Transaction) (string, bool) {
	if st := state(t); st != nil {
		return st.key, true
	}
	if k, ok := e.Accounts.Key(t); ok {
		return k, true
	}
	return e.Accounts.KeyAtEnd(t)
}
