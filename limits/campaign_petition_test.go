package limits_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"outguard/limits"
)

// On every store (issue 28), a petition many customers send to their
// representative stays no campaign when a few of its signers also send
// it to an address of their own: a copy to themselves with the letter, a
// separate message to their own address, to a friend. The signers matched
// to recipients of their own are those few and the representative's one,
// never half of the signers. Before: a campaign from the fourth such
// signer (4 addresses of their own and the representative's: the
// threshold of 5), and every signer a sender to suspend.
func TestCampaignPetitionCopiesElsewhere(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Add(-10 * time.Minute)
			send := func(account string, rcpts ...string) {
				t.Helper()
				if res := copyTo(t, cs, &now, "petition", account, rcpts...); res.ID != "" {
					t.Fatalf("%s's copy to %v: %+v", account, rcpts, res)
				}
			}
			// every 7th signer from the sixth also elsewhere: 6 of 40
			for i := range 40 {
				a := fmt.Sprint("signer", i)
				switch {
				case i%28 == 5: // with a copy to themselves
					send(a, "representative", "self"+a)
				case i%28 == 12: // to the representative, then alone to their own address
					send(a, "representative")
					send(a, "self"+a)
				case i%28 == 19: // to the representative, then alone to a friend
					send(a, "representative")
					send(a, "friend"+a)
				case i%28 == 26: // to the representative and a friend
					send(a, "representative", "friend"+a)
				default:
					send(a, "representative")
				}
			}
		})
	}
}

// On every store (issue 28), what lets the petition pass does not let a
// run through: a run over stolen accounts each to a victim of its own
// and one shared decoy is found at its fifth account to victims when
// accounts send their copy to the decoy alone (one each after the first
// three: 5 victims matched of 8 senders; before schema 19, at the fourth,
// the decoy matched too); a run to one shared list whose
// recorded 16 recipients hold a victim of each account's own is found at
// the fifth account. A run whose
// accounts' recorded recipients are all one list is no campaign since
// schema 17 (before: found by the list's recipients at the fourth such
// account): every account wrote to the same people, which is one
// mailbox set flooded, no spread, left to the per-account limits, as
// the petition to a committee it cannot be told from
// (TestCampaignPetitionCommittee). With two accounts to the decoy alone
// per account to victims, the run passes for a petition: the price of
// hiding a run of n accounts is n+1 more stolen accounts that reach
// nobody but the decoy (docs/suspension.md).
func TestCampaignPetitionNoEvasion(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Add(-10 * time.Minute)
			send := func(text, account string, rcpts ...string) limits.CampaignResult {
				t.Helper()
				return copyTo(t, cs, &now, text, account, rcpts...)
			}
			// one to the decoy alone after each of the first three
			// accounts to victims: found at the fifth account to victims
			// (8 senders, 5 victims matched). Before schema 19 at the
			// fourth (7 senders, 4 victims and the decoy matched): the
			// decoy every sender reached is the core now, dropped as a
			// committee is (4 signers of 5 Cc'ing a friend are the same
			// shape, and no campaign: TestCampaignCoreShapes)
			for i := range 5 {
				res := send("diluted", fmt.Sprint("v", i), "decoy", fmt.Sprint("victim", i))
				if res.New != (i == 4) {
					t.Fatalf("run copy %d: %+v", i, res)
				}
				if i < 3 {
					if res := send("diluted", fmt.Sprint("d", i), "decoy"); res.ID != "" {
						t.Fatalf("decoy copy %d: %+v", i, res)
					}
				}
			}
			// after 30 accounts to the decoy alone (a petition's start),
			// 12 accounts whose recorded recipients (16 per key and
			// account) are one shared list: one set of recipients, no
			// campaign; then (another text) a run to 15 of the list and a
			// victim of each account's own: found at its fifth
			var list []string
			for i := range limits.MaxRcpts {
				list = append(list, fmt.Sprint("listed", i))
			}
			for i := range 30 {
				if res := send("listed", fmt.Sprint("l", i), "decoy"); res.ID != "" {
					t.Fatalf("decoy copy %d: %+v", i, res)
				}
			}
			for i := range 12 {
				if res := send("listed", fmt.Sprint("list", i), list...); res.ID != "" {
					t.Fatalf("copy %d to the list after 30 to the decoy: %+v", i, res)
				}
			}
			for i := range 5 {
				res := send("listvictim", fmt.Sprint("lv", i), append(slices.Clone(list[:limits.MaxRcpts-1]), fmt.Sprint("victim", i))...)
				if res.New != (i == 4) {
					t.Fatalf("copy %d to the list and a victim: %+v", i, res)
				}
			}
			// two to the decoy alone per account to victims: 3n senders,
			// n of them with recipients of their own, n matched (the decoy
			// is the core; n+1 before schema 19)
			for i := range 12 {
				for j := range 2 {
					if res := send("hidden", fmt.Sprint("h", i, "-", j), "decoy"); res.ID != "" {
						t.Fatalf("hidden decoy copy %d: %+v", i, res)
					}
				}
				if res := send("hidden", fmt.Sprint("w", i), "decoy", fmt.Sprint("victim", i)); res.ID != "" {
					t.Fatalf("hidden run copy %d: %+v", i, res)
				}
			}
		})
	}
}

// copyTo counts account's copy of text to rcpts on cs, a second after
// *now (which it moves), with the example config's threshold and window.
func copyTo(t *testing.T, cs limits.CampaignStore, now *time.Time, text, account string, rcpts ...string) limits.CampaignResult {
	t.Helper()
	*now = now.Add(time.Second)
	res, err := cs.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: campaignKeys(text, false), Account: account, Rcpts: rcpts, Time: *now, Bands: 5}, 15*time.Minute, 5)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
