package limits_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"outguard/limits"
)

// commitCopy commits one message of account with its campaign copy of
// text, as the limits engine's commit does, and counts the copy alone
// where the store does not fold it (as the campaign engine's commit).
func commitCopy(ctx context.Context, st limits.Store, account, text string, lim limits.Limits, now time.Time) (bool, limits.CampaignResult, error) {
	cc := &limits.CampaignCount{Copy: limits.CampaignCopy{Keys: campaignKeys(text, false), Account: account, Subject: "s", Time: now, Bands: 5},
		Window: 15 * time.Minute, Threshold: 5}
	_, ok, _, _, err := st.CommitMessage(ctx, account, limits.Sent{Host: "mx", QueueID: fmt.Sprint(account, text, now.UnixNano()), Rcpts: []string{"r@x"}, Time: now, Campaign: cc}, lim, nil, now)
	if err != nil || cc.Done {
		return ok, cc.Result, err
	}
	if ok {
		res, err := st.(limits.CampaignStore).CampaignCopy(ctx, cc.Copy, cc.Window, cc.Threshold)
		return ok, res, err
	}
	return ok, limits.CampaignResult{}, nil
}

// The copies counted in the message's commit keep CampaignCopy's
// exactness across two hosts: of 16 accounts' copies sent at once,
// exactly one establishes the campaign, 11 are Known; and a message the
// store does not admit (over its limit) counts no copy: the five
// accounts over their limit do not make a campaign however often they
// send it.
func TestCampaignFoldedExact(t *testing.T) {
	ctx := context.Background()
	for name, pair := range storePairs(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			for round := range 3 {
				text := fmt.Sprint("fold", round, "x")
				sixteenSenders(t, pair, round, func(st limits.Store, i int) (limits.CampaignResult, error) {
					ok, res, err := commitCopy(ctx, st, fmt.Sprint("fold", round, "acct", i), text, limits.Limits{}, now)
					if err == nil && !ok {
						err = errors.New("not admitted")
					}
					return res, err
				})
			}
			// Five accounts each admitted one message (their limit) of
			// another text, then each sends the campaign's text: refused,
			// not counted.
			lim := limits.Limits{MessagesPerHour: 1}
			for i := range 5 {
				acct := fmt.Sprint("over", i)
				if ok, _, err := commitCopy(ctx, pair[0], acct, fmt.Sprint("own", i, "x"), lim, now); err != nil || !ok {
					t.Fatal(ok, err)
				}
				for range 2 {
					ok, res, err := commitCopy(ctx, pair[i%2], acct, "refusedx", lim, now)
					if err != nil || ok || res.ID != "" {
						t.Fatalf("%s over its limit: admitted %v, campaign %+v, %v", acct, ok, res, err)
					}
				}
			}
			ok, res, err := commitCopy(ctx, pair[1], "over-sixth", "refusedx", limits.Limits{}, now)
			if err != nil || !ok || res.ID != "" {
				t.Errorf("the first admitted copy of a text only refused copies carried: %v %+v %v", ok, res, err)
			}
		})
	}
}

// A message's commit with its campaign copy, through a relay that
// counts round trips: one on Redis (the admit script with the
// campaign's in it) and on PostgreSQL (og_admit calling og_campaign).
// Before, Redis took two (the admit script, then the campaign script),
// PostgreSQL 47 for a copy of 20 keys (og_admit, then the copy's
// transaction: BEGIN, a lock per key, the statements, COMMIT).
func TestCampaignFoldedRoundTrips(t *testing.T) {
	ctx := context.Background()
	for name, c := range countedStores(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			for i := range 4 { // the first loads the scripts
				before := c.turns.turns.Load()
				ok, res, err := commitCopy(ctx, c.st, fmt.Sprint("rt", i), "rtx", limits.Limits{}, now)
				if err != nil || !ok || res.ID != "" {
					t.Fatal(ok, res, err)
				}
				if n := c.turns.turns.Load() - before; i > 0 && n != 1 {
					t.Errorf("copy %d: %d round trips, want 1", i, n)
				}
			}
			// The longest copy a fingerprint makes (campaign.MaxKeys text
			// keys, and attachments): one round trip too; the second
			// account's copy establishes the campaign (on Redis with one
			// more round trip, indexing it for its other senders:
			// campaignReply).
			var keys []string
			for k := range 512 {
				keys = append(keys, fmt.Sprintf("t1long%03d", k))
			}
			keys = append(keys, "f1long", "a1long")
			for i, acct := range []string{"long1", "long2"} {
				cc := &limits.CampaignCount{Copy: limits.CampaignCopy{Keys: keys, Account: acct, Subject: "s", Time: now, Bands: 5, Rcpts: []string{acct}}, Window: time.Hour, Threshold: 2}
				before := c.turns.turns.Load()
				_, ok, _, _, err := c.st.CommitMessage(ctx, acct, limits.Sent{Host: "mx", QueueID: "L" + acct, Rcpts: []string{"r@x"}, Time: now, Campaign: cc}, limits.Limits{}, nil, now)
				n := c.turns.turns.Load() - before
				oneTrip := n == 1 || name == "redis" && i == 1
				if err != nil || !ok || !cc.Done || !oneTrip || cc.Result.New != (i == 1) {
					t.Errorf("%d keys from %s: admitted %v done %v %+v, %d round trips, %v", len(keys), acct, ok, cc.Done, cc.Result, n, err)
				}
			}
		})
	}
}
