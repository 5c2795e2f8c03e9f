package campaign_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/campaign"
	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// Review rspare3 (issue 28, "campaigns spare", third design, 904d933).

// srig is the rig of campaign_test.go on any store: the example config's
// defaults (5 accounts, 15m, quarantine, suspend, suspend_for 24h,
// escalate 3 within 30d).
type srig struct {
	eng   *campaign.Engine
	lim   *limits.Engine
	store limits.Store
	cs    limits.CampaignStore
	now   time.Time
}

func newSRig(t *testing.T, st limits.Store) *srig {
	r := &srig{store: st, cs: st.(limits.CampaignStore), now: time.Now().Add(-6 * time.Hour).Truncate(time.Minute)}
	pol, _ := limits.NewPolicy(limits.Limits{}, nil)
	r.lim = &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return r.now },
		Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day, Escalate: limits.Escalation{After: 3, Within: 30 * limits.Day}}
	r.eng = campaign.New(campaign.Options{Store: r.cs, Limits: r.lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
		SharedDomains: []string{"isp.example"}, Seed: campaign.FixedSeed(campaign.Seed{}), Log: r.lim.Log, Now: func() time.Time { return r.now }})
	r.lim.Campaigns = r.eng
	return r
}

func (r *srig) send(t testing.TB, account string, rcpts []string, raw []byte) policy.Verdict {
	t.Helper()
	ctx := context.Background()
	tx := campaign.Transaction(t, account, rcpts, raw)
	v, err := r.lim.CheckMail(ctx, tx)
	if err == nil && v.Action == policy.Accept {
		if v, err = r.lim.Commit(ctx, tx); err == nil && v.Action == policy.Accept {
			v, err = r.eng.Commit(ctx, tx)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r *srig) suspended(t testing.TB, accounts ...string) (n int) {
	for _, a := range accounts {
		_, s, err := r.store.Usage(context.Background(), a, r.now)
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			n++
		}
	}
	return n
}

func rspare3Stores(t *testing.T) map[string]func() limits.Store {
	ctx := context.Background()
	return map[string]func() limits.Store{
		"sqlite": func() limits.Store {
			st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"redis": func() limits.Store {
			st, err := limits.OpenRedis(ctx, harness.StartRedis(t).Addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func() limits.Store {
			st, err := limits.OpenPostgres(ctx, harness.StartPostgres(t).DSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

// phishRun sends copies first..first+n-1 of hamgen.Phish from accounts
// prefix0..; it returns the accounts and the campaign id the store gave
// (the last copy's).
func (r *srig) phishRun(t *testing.T, prefix string, first, n int) (accts []string, held int) {
	for i := range n {
		a := fmt.Sprintf("%s%d@isp.example", prefix, i)
		accts = append(accts, a)
		rcpt, raw := hamgen.Phish(first+i, false)
		r.now = r.now.Add(time.Minute)
		if v := r.send(t, a, []string{rcpt}, raw); v.Action == policy.Quarantine {
			held++
		}
	}
	return accts, held
}

// TestReviewRspare3SpareOutlivesCampaign: claim 3, "a window without a
// copy ends the campaign, and a later one is a new campaign, not
// spared". A campaign is named by its most widely sent key (campName,
// Redis' top), and the store re-uses the record of that id (SQL campNew's
// ON CONFLICT, Redis' camp hash kept when it exists): the same text sent
// again by a new set of accounts two hours later (8 windows without a
// copy, the record kept 7 days) is established under the same id, which
// still carries the spare: none of its senders is suspended.
func TestReviewRspare3SpareOutlivesCampaign(t *testing.T) {
	ctx := context.Background()
	for name, open := range rspare3Stores(t) {
		t.Run(name, func(t *testing.T) {
			r := newSRig(t, open())
			first, _ := r.phishRun(t, "early", 0, 6)
			cs, err := r.cs.Campaigns(ctx, time.Time{}, 10)
			if err != nil || len(cs) != 1 {
				t.Fatalf("campaigns after the first run: %v %v", cs, err)
			}
			id := cs[0].ID
			if n := r.suspended(t, first...); n != 6 {
				t.Fatalf("first run: %d of 6 suspended", n)
			}
			if err := r.cs.SpareCampaign(ctx, id, "desk", r.now, rspare3Senders(t, r.cs, id)); err != nil {
				t.Fatal(err)
			}
			// two hours without a copy: the campaign ended (window 15m)
			r.now = r.now.Add(2 * time.Hour)
			later, held := r.phishRun(t, "later", 20, 7)
			cs, _ = r.cs.Campaigns(ctx, time.Time{}, 10)
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			sp, _ := campaignSpared(ctx, r.cs, id)
			n := r.suspended(t, later...)
			t.Logf("%s: campaign ids %v (spared one %s, still spared: %v); later run: %d of 7 copies held, %d of 7 senders suspended",
				name, ids, id, sp != nil, held, n)
			if held == 0 {
				t.Fatalf("the later run was not found at all")
			}
			if n == 0 {
				t.Errorf("%s: a new campaign of the same text %v after the spared one ended (id %s re-used, spare %+v): none of its %d senders suspended, want them suspended (a later campaign is not spared)",
					name, 2*time.Hour, id, sp, len(later))
			}
		})
	}
}

// The spammer's own text: nothing of the phish's.
const rspare3Spam = `Exclusive offer for our valued partners: the new solar bond pays twelve percent a year, guaranteed by the fund.
Only three hundred certificates are left this quarter, so reserve yours today before the allocation closes on Friday.
Our advisers will call you within one business day to complete the paperwork and confirm the transfer details.
Reply with your phone number and the best time to reach you, and we will send the prospectus and the bank account for the deposit.`

func rspare3SpamMsg(i int, withPhish bool) (string, []byte) {
	rcpt := fmt.Sprintf("buyer%d@target%d.example", i, i%5)
	text := fmt.Sprintf("Hello buyer %d,\n\n%s\n", i, rspare3Spam)
	if withPhish {
		_, p := hamgen.Phish(200+i, false)
		_, body, _ := strings.Cut(string(p), "\n\n")
		text += "\n" + body
	}
	raw := fmt.Sprintf("From: Sales <sales@isp.example>\nTo: <%s>\nSubject: Solar bond %d\nMIME-Version: 1.0\nContent-Type: text/plain\n\n%s", rcpt, i, text)
	return rcpt, []byte(raw)
}

// TestReviewRspare3SpareAbsorbsOtherRun: claim 1, "nothing a spare does
// makes any OTHER campaign's sender unsuspended or un-suspendable". A
// run over stolen accounts first sends 5 copies of its own text with the
// spared campaign's text appended: they are Known to the spared campaign
// (held, not suspended), and every key of theirs is linked to it
// (campLink), its own text's too. From then on copies of the run's own
// text alone, which share nothing with the spared campaign, are filed
// under the spared id: held, and none of their senders ever suspended.
// The control: the same run of its own text without a spare in the
// store suspends its senders.
func TestReviewRspare3SpareAbsorbsOtherRun(t *testing.T) {
	ctx := context.Background()
	for name, open := range rspare3Stores(t) {
		for _, spare := range []bool{false, true} {
			t.Run(fmt.Sprint(name, "/spared=", spare), func(t *testing.T) {
				r := newSRig(t, open())
				r.phishRun(t, "signer", 0, 5)
				cs, _ := r.cs.Campaigns(ctx, time.Time{}, 10)
				if len(cs) != 1 {
					t.Fatalf("campaigns: %v", cs)
				}
				id := cs[0].ID
				if spare {
					if err := r.cs.SpareCampaign(ctx, id, "desk", r.now, rspare3Senders(t, r.cs, id)); err != nil {
						t.Fatal(err)
					}
				}
				var bridge, run []string
				bheld := 0
				for i := range 5 {
					a := fmt.Sprintf("bridge%d@isp.example", i)
					bridge = append(bridge, a)
					rcpt, raw := rspare3SpamMsg(i, true)
					r.now = r.now.Add(time.Minute)
					if v := r.send(t, a, []string{rcpt}, raw); v.Action == policy.Quarantine {
						bheld++
					}
				}
				rheld, other := 0, 0
				for i := range 10 {
					a := fmt.Sprintf("run%d@isp.example", i)
					run = append(run, a)
					rcpt, raw := rspare3SpamMsg(100+i, false)
					r.now = r.now.Add(30 * time.Second)
					v := r.send(t, a, []string{rcpt}, raw)
					if v.Action == policy.Quarantine {
						rheld++
						if !strings.Contains(v.Reason, id) {
							other++
						}
					}
				}
				all, _ := r.cs.Campaigns(ctx, time.Time{}, 10)
				var ids []string
				for _, c := range all {
					ids = append(ids, c.ID)
				}
				bs, rs := r.suspended(t, bridge...), r.suspended(t, run...)
				t.Logf("spared=%v: campaigns %v (the phish %s); bridge: %d/5 held, %d/5 suspended; run of its own text: %d/10 held (%d under another id), %d/10 suspended",
					spare, ids, id, bheld, bs, rheld, other, rs)
				if rs == 0 {
					t.Errorf("spared=%v: 10 accounts sending a text of their own that shares nothing with the spared campaign (%d held under its id %s): none suspended; bridge accounts suspended %d/5",
						spare, rheld, id, bs)
				}
			})
		}
	}
}

// rspare3Senders are the accounts that sent id: what milterctl campaigns
// spare lists when none of them sent another campaign.
func rspare3Senders(t *testing.T, cs limits.CampaignStore, id string) []string {
	t.Helper()
	s, err := cs.CampaignSenders(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// campaignSpared is campaign id's spare as the desk reads it (campaigns
// show), nil when it is not spared.
func campaignSpared(ctx context.Context, cs limits.CampaignStore, id string) (*limits.Spare, error) {
	c, err := cs.CampaignByID(ctx, id)
	if err != nil || c == nil {
		return nil, err
	}
	return c.Spared, nil
}
