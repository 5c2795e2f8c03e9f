package limits_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/internal/harness"
	"outguard/limits"
)

// establish makes text a campaign of five accounts (text0..text4) at now
// on st and returns its id.
func establish(t *testing.T, st limits.Store, text string, now time.Time) string {
	t.Helper()
	var keys []string
	for b := range 5 {
		keys = append(keys, fmt.Sprintf("t1%s%02d", text, b))
	}
	var id string
	for i := range 5 {
		res, err := st.(limits.CampaignStore).CampaignCopy(context.Background(), limits.CampaignCopy{Keys: keys, Account: fmt.Sprint(text, i),
			Subject: text, Time: now.Add(time.Duration(i) * time.Second), Bands: 5}, 15*time.Minute, 5)
		if err != nil {
			t.Fatal(err)
		}
		id = max(id, res.ID)
	}
	if id == "" {
		t.Fatalf("%s: no campaign after five accounts", text)
	}
	return id
}

// TestSpareCampaignStores: a spare is recorded once (the first desk's
// name stays, a second adds its accounts), read back with the campaign
// and its listed accounts only (one taken off by UnlistSpared), ended by unspare with its accounts,
// refused for a campaign the store does not hold (nothing recorded), and
// leaves what the store makes of a copy as it was: a later copy is still
// Known. CampaignSenders are every sender; LiftCampaign lifts only a
// suspension for that campaign, and acknowledges nothing else.
func TestSpareCampaignStores(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cs := st.(limits.CampaignStore)
			now := time.Now().Truncate(time.Millisecond)
			id := establish(t, st, "petition", now)
			if err := cs.SpareCampaign(ctx, "t1nosuch", "desk", now, []string{"petition0"}); !errors.Is(err, limits.ErrNoCampaign) {
				t.Errorf("spare of an unknown campaign: %v, want ErrNoCampaign", err)
			}
			if sp, err := campaignSpared(ctx, cs, "t1nosuch"); err != nil || sp != nil {
				t.Errorf("unknown campaign spared: %+v %v", sp, err)
			}
			if ok, err := cs.SparedAccount(ctx, "t1nosuch", "petition0", now, 15*time.Minute); err != nil || ok {
				t.Errorf("an account of an unknown campaign spared: %v %v", ok, err)
			}
			if sp, err := campaignSpared(ctx, cs, id); err != nil || sp != nil {
				t.Fatalf("spared before any spare: %+v %v", sp, err)
			}
			senders, err := cs.CampaignSenders(ctx, id)
			if err != nil || fmt.Sprint(senders) != "[petition0 petition1 petition2 petition3 petition4]" {
				t.Fatalf("senders %v %v", senders, err)
			}
			if err := cs.SpareCampaign(ctx, id, "desk", now, []string{"petition0", "petition1"}); err != nil {
				t.Fatal(err)
			}
			if err := cs.SpareCampaign(ctx, id, "other", now.Add(time.Minute), []string{"petition1", "petition2"}); err != nil {
				t.Fatal(err)
			}
			sp, err := campaignSpared(ctx, cs, id)
			if err != nil || sp == nil || sp.By != "desk" || !sp.At.Equal(now) {
				t.Fatalf("spare: %+v %v, want desk's at %v", sp, err, now)
			}
			for acct, want := range map[string]bool{"petition0": true, "petition1": true, "petition2": true, "petition3": false, "x": false} {
				if ok, err := cs.SparedAccount(ctx, id, acct, now, 15*time.Minute); err != nil || ok != want {
					t.Errorf("%s spared: %v %v, want %v", acct, ok, err, want)
				}
			}
			// Taken off (a limit crossed found at its lift), and put on
			// again by a later spare.
			if err := cs.UnlistSpared(ctx, id, "petition2"); err != nil {
				t.Fatal(err)
			}
			if ok, err := cs.SparedAccount(ctx, id, "petition2", now, 15*time.Minute); err != nil || ok {
				t.Errorf("petition2 spared after UnlistSpared: %v %v", ok, err)
			}
			if ok, err := cs.SparedAccount(ctx, id, "petition1", now, 15*time.Minute); err != nil || !ok {
				t.Errorf("petition1 not spared after petition2's UnlistSpared: %v %v", ok, err)
			}
			if err := cs.SpareCampaign(ctx, id, "other", now, []string{"petition2"}); err != nil {
				t.Fatal(err)
			}
			// In force a window after the run's last copy, moved on by
			// a copy of it (from a sender it does not list too, who is
			// not spared by it), never back, and not once stale; the
			// copy's sender is spared while it is in force.
			w := 15 * time.Minute
			for _, step := range []struct {
				touch, at time.Duration
				sender    string
				touched   bool // the sender spared, as the touch reads it
				want      bool
			}{{0, 16 * time.Minute, "", false, false}, {10 * time.Minute, 24 * time.Minute, "petition3", false, true}, {5 * time.Minute, 26 * time.Minute, "petition0", true, false}, {60 * time.Minute, 61 * time.Minute, "petition0", false, false}} {
				if step.touch > 0 {
					if spared, err := cs.TouchSpare(ctx, id, step.sender, now.Add(step.touch), w); err != nil || spared != step.touched {
						t.Fatalf("touched at +%v by %s: spared %v %v, want %v", step.touch, step.sender, spared, err, step.touched)
					}
				}
				if ok, err := cs.SparedAccount(ctx, id, "petition0", now.Add(step.at), w); err != nil || ok != step.want {
					t.Errorf("spared at +%v (touched at +%v): %v %v, want %v", step.at, step.touch, ok, err, step.want)
				}
			}
			c, err := cs.CampaignByID(ctx, id)
			if err != nil || c == nil || c.Spared == nil || c.Spared.By != "desk" || !c.Spared.Last.Equal(now.Add(10*time.Minute)) {
				t.Fatalf("CampaignByID: %+v %v", c, err)
			}
			if list, err := cs.Campaigns(ctx, time.Time{}, 10); err != nil || len(list) != 1 || list[0].Spared == nil {
				t.Errorf("Campaigns: %+v %v, want it spared", list, err)
			}
			var keys []string
			for b := range 5 {
				keys = append(keys, fmt.Sprintf("t1petition%02d", b))
			}
			res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: "petition9", Subject: "petition", Time: now.Add(time.Minute), Bands: 5}, 15*time.Minute, 5)
			if err != nil || res.ID != id || !res.Known {
				t.Errorf("a copy after the spare: %+v %v, want Known %s", res, err, id)
			}
			if c, err := cs.CampaignByID(ctx, id); err != nil || c.Copies != 6 || c.Spared == nil {
				t.Errorf("after a copy: %+v %v", c, err)
			}
			for i, want := range []bool{true, false} {
				if ended, err := cs.UnspareCampaign(ctx, id); err != nil || ended != want {
					t.Errorf("unspare %d: %v %v, want %v", i, ended, err, want)
				}
			}
			if sp, err := campaignSpared(ctx, cs, id); err != nil || sp != nil {
				t.Errorf("spared after unspare: %+v %v", sp, err)
			}
			if ok, err := cs.SparedAccount(ctx, id, "petition0", now, 15*time.Minute); err != nil || ok {
				t.Errorf("an account spared after unspare: %v %v", ok, err)
			}

			// LiftCampaign: only id's suspension; a manual one stays.
			other := establish(t, st, "phish", now)
			c, _ = cs.CampaignByID(ctx, id)
			eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler)}
			if _, err := eng.SuspendCampaign(ctx, "petition0", *c, now); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Suspend(ctx, limits.Suspension{Key: "petition1", Since: now, Reason: "fraud", By: "desk"}, now); err != nil {
				t.Fatal(err)
			}
			for _, l := range []struct {
				acct, id string
				want     bool
			}{{"petition0", other, false}, {"petition1", id, false}, {"petition3", id, false}, {"petition0", id, true}, {"petition0", id, false}} {
				if ok, err := cs.LiftCampaign(ctx, l.acct, l.id); err != nil || ok != l.want {
					t.Errorf("LiftCampaign(%s, %s): %v %v, want %v", l.acct, l.id, ok, err, l.want)
				}
			}
			if _, s, _ := st.Usage(ctx, "petition1", now); s == nil {
				t.Errorf("the manual suspension was lifted")
			}
		})
	}
}

// TestSpareLivesWithCampaign: the spare is forgotten with its campaign,
// never before nor after: on Redis it is a field of the campaign's hash,
// whose expiry it does not remove (a spare that made the hash persist
// would keep the campaign, and its spare, for ever); on SQL it is purged
// with the campaign, and a spare of the purged campaign fails.
func TestSpareLivesWithCampaign(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	t.Run("redis", func(t *testing.T) {
		srv := harness.StartRedis(t)
		st, err := limits.OpenRedis(ctx, srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		id := establish(t, st, "petition", now)
		raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer raw.Close()
		key := "og:{camp}:camp:" + id
		before := raw.PTTL(ctx, key).Val()
		if err := st.SpareCampaign(ctx, id, "desk", now, []string{"petition0"}); err != nil {
			t.Fatal(err)
		}
		if after := raw.PTTL(ctx, key).Val(); before <= 0 || after <= 0 || after > before {
			t.Errorf("the campaign's expiry: %v before the spare, %v after: want it kept", before, after)
		}
		raw.Del(ctx, key) // as its expiry does
		if sp, err := campaignSpared(ctx, st, id); err != nil || sp != nil {
			t.Errorf("spare outlived its campaign: %+v %v", sp, err)
		}
		if ok, err := st.SparedAccount(ctx, id, "petition0", now, 15*time.Minute); err != nil || ok {
			t.Errorf("a spared account outlived its campaign: %v %v", ok, err)
		}
		if err := st.SpareCampaign(ctx, id, "desk", now, []string{"petition0"}); !errors.Is(err, limits.ErrNoCampaign) {
			t.Errorf("spare of an expired campaign: %v", err)
		}
		if n := raw.Exists(ctx, key).Val(); n != 0 {
			t.Errorf("the failed spare made the campaign's hash again")
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		old := establish(t, st, "old", now.Add(-31*24*time.Hour))
		kept := establish(t, st, "kept", now)
		for _, id := range []string{old, kept} {
			if err := st.SpareCampaign(ctx, id, "desk", now, []string{"old0", "kept0"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Purge(ctx, now); err != nil {
			t.Fatal(err)
		}
		if sp, _ := campaignSpared(ctx, st, old); sp != nil {
			t.Errorf("the spare of a purged campaign is kept")
		}
		if ok, _ := st.SparedAccount(ctx, old, "old0", now, 365*24*time.Hour); ok {
			t.Errorf("the spared account of a purged campaign is kept")
		}
		if ok, _ := st.SparedAccount(ctx, kept, "kept0", now, 15*time.Minute); !ok {
			t.Errorf("the spared account of a campaign kept was purged")
		}
		if sp, _ := campaignSpared(ctx, st, kept); sp == nil {
			t.Errorf("the spare of a campaign kept was purged")
		}
		if err := st.SpareCampaign(ctx, old, "desk", now, nil); !errors.Is(err, limits.ErrNoCampaign) {
			t.Errorf("spare of a purged campaign: %v", err)
		}
	})
}

// TestSpareVoidsEscalation: a suspension for a campaign the desk spared
// the account of, up to the spare, counts toward no escalation; one for
// another campaign, or for the same campaign after the spare (the spare
// ended), still does (escalate: the second automatic suspension within
// 30 days; review rspare3: the spare voided them all, for good).
func TestSpareVoidsEscalation(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		spared   bool
		second   string // the campaign of the second suspension
		escalate bool
	}{
		{"not spared", false, "phish", true},
		{"spared", true, "phish", false},
		{"spared, the same campaign again after the spare", true, "petition", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Escalate: limits.Escalation{After: 2, Within: 30 * 24 * time.Hour},
				Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx1"}}
			ids := map[string]string{"petition": establish(t, st, "petition", now), "phish": establish(t, st, "phish", now)}
			first, _ := st.CampaignByID(ctx, ids["petition"])
			if _, err := eng.SuspendCampaign(ctx, "petition0", *first, now); err != nil {
				t.Fatal(err)
			}
			if c.spared {
				// What milterctl campaigns spare writes for the account.
				if err := st.Audit(ctx, limits.AuditEvent{Time: now, Account: "petition0", Event: limits.AuditSpared, By: "desk", Campaign: ids["petition"]}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.Unsuspend(ctx, "petition0", now); err != nil {
				t.Fatal(err)
			}
			second, _ := st.CampaignByID(ctx, ids[c.second])
			s, err := eng.SuspendCampaign(ctx, "petition0", *second, now.Add(time.Hour))
			if err != nil || s == nil {
				t.Fatalf("second suspension: %+v %v", s, err)
			}
			if s.Escalated != c.escalate {
				t.Errorf("second automatic suspension escalated: %v, want %v", s.Escalated, c.escalate)
			}
			if c.second == "petition" {
				// The suspension after the spare counts: the next escalates.
				if _, err := st.Unsuspend(ctx, "petition0", now.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				third, _ := st.CampaignByID(ctx, ids["phish"])
				if s, err = eng.SuspendCampaign(ctx, "petition0", *third, now.Add(2*time.Hour)); err != nil || !s.Escalated {
					t.Errorf("third automatic suspension, the second after the spare: %+v %v, want escalated", s, err)
				}
			}
		})
	}
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

// TestPutBackThenSpareAgain: a put back undoes the spare's void (the
// account's suspension for the campaign counts toward escalation again),
// and a spare after the put back voids it again, though the void is
// stamped from the same trail (review rspare9's put back; the second
// void must not fall at or before it). Escalation after 2 within 30
// days: the account's next automatic suspension escalates exactly when
// the campaign's counts.
func TestPutBackThenSpareAgain(t *testing.T) {
	for _, spareAgain := range []bool{false, true} {
		t.Run(fmt.Sprint("spare again ", spareAgain), func(t *testing.T) {
			ctx := context.Background()
			st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now().Truncate(time.Second).Add(-3 * time.Hour)
			clock := now
			pol, _ := limits.NewPolicy(limits.Limits{}, nil)
			eng := &limits.Engine{Store: st, Policy: pol, SuspendFor: limits.Day, Escalate: limits.Escalation{After: 2, Within: 30 * limits.Day},
				Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return clock }}
			id := establish(t, st, "petition", now)
			c, err := st.CampaignByID(ctx, id)
			if err != nil || c == nil {
				t.Fatal(c, err)
			}
			s, err := eng.SuspendCampaign(ctx, "petition0", *c, now)
			if err != nil || s == nil {
				t.Fatal(s, err)
			}
			if err := limits.VoidCampaign(ctx, st, "petition0", id, "desk", "ctl", ""); err != nil {
				t.Fatal(err)
			}
			if err := limits.PutBack(ctx, st, s, id, now, "it sent another campaign meanwhile"); err != nil {
				t.Fatal(err)
			}
			if spareAgain {
				if err := limits.VoidCampaign(ctx, st, "petition0", id, "desk", "ctl", ""); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.Unsuspend(ctx, "petition0", now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			clock = now.Add(2 * time.Hour)
			other := establish(t, st, "other", clock)
			oc, _ := st.CampaignByID(ctx, other)
			next, err := eng.SuspendCampaign(ctx, "petition0", *oc, clock)
			if err != nil || next == nil {
				t.Fatal(next, err)
			}
			if next.Escalated == spareAgain {
				t.Errorf("the next automatic suspension escalated %v, want %v: the campaign's suspension, put back then spared again %v, counted wrong", next.Escalated, !spareAgain, spareAgain)
			}
		})
	}
}
