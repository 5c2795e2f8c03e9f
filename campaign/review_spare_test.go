package campaign

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// TestReviewSpareBridgedRun (review rspare): the petition is spared. A run
// of 12 stolen accounts sends the lure of TestSparedCampaignSparesItsSenders's
// run (found at its fifth account, all 8 suspended during the spare).
// ONE of its copies, the first, also carries the public petition's text
// below the lure; the other eleven are the pure lure. Of the version that
// spared whoever sent a spared campaign, that copy kept the run's first
// pure-lure senders unsuspended. Now the spare changes nothing: the same
// run with the petition not spared suspends as many. (Spare or not, the
// bridging copy joins the lure to the petition's campaign, whose later
// copies suspend only their own sender: 8 of 11 suspended, not 11. A
// limit of joined runs, docs/suspension.md.)
func TestReviewSpareBridgedRun(t *testing.T) {
	ctx := context.Background()
	run := func(bridge, spare bool) (suspended, held int) {
		r := newRig(t)
		var msgs []hamgen.Message
		for i := range 8 {
			m := hamgen.Petition(5, i)
			m.Rcpts = []string{"anna.weber@parliament.example", fmt.Sprintf("friend%d@mail.example", i)}
			msgs = append(msgs, m)
		}
		if first, cs, _ := r.sendAll(t, msgs); first < 0 || cs != 1 {
			t.Fatalf("the petition is no campaign")
		}
		list, _ := r.store.Campaigns(ctx, time.Time{}, 10)
		if spare {
			if ok, err := r.store.SpareCampaign(ctx, list[0].ID, r.now, r.now.Add(7*limits.Day), "abuse-desk"); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		_, petition, _ := strings.Cut(string(hamgen.Petition(5, 99).Raw), "\r\n\r\n")
		petition = strings.ReplaceAll(petition, "\r\n", "\n")
		for i := range 12 {
			rcpt, h, b := phishBody(i)
			if i == 0 && bridge {
				b += "\n\nP.S. Please also sign our petition:\n\n" + petition
			}
			r.now = r.now.Add(5 * time.Second)
			acct := fmt.Sprintf("stolen%d@isp.example", i)
			v, err := r.commit(ctx, transaction(t, acct, []string{rcpt}, []byte(h+"\n\n"+b)))
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 && v.Action != policy.Accept {
				held++
			}
		}
		for i := 1; i < 12; i++ {
			if _, s, _ := r.store.Usage(ctx, fmt.Sprintf("stolen%d@isp.example", i), r.now); s.Active(r.now) {
				suspended++
			}
		}
		return
	}
	cs, ch := run(false, true)
	bs, bh := run(true, true)
	ns, nh := run(true, false)
	t.Logf("pure-lure senders stolen1..11: without the bridging copy %d suspended, %d copies held; with it %d suspended, %d held; with it, the petition not spared, %d, %d", cs, ch, bs, bh, ns, nh)
	if cs != 11 || bs != ns || bh != nh {
		t.Errorf("the spare changes what a run joined to it gets: %d suspended, %d held; not spared %d, %d (without the bridging copy %d of 11 suspended)", bs, bh, ns, nh, cs)
	}
}

// TestReviewSpareRunInWaves (review rspare): the petition is spared (7d)
// and goes quiet. A run of five stolen accounts sends lures carrying the
// public petition's text in waves, and a sixth stolen account sends the
// petition alone (to a friend of its own) at the start of each wave, so
// that the petition's passage is the wave's most widely sent key and the
// wave is named after the spared campaign: one copy from each account,
// then a pause longer than campaign.window. A suspended account's copy is
// counted as refused (the rig has no RCPT stage). Of the version that
// spared whoever sent a spared campaign, each wave was established again
// under it and nobody suspended: over 6 waves 20 minutes apart, 24 of 30
// lure copies delivered. Now the run's accounts, which had not sent the
// petition when it was spared, are suspended as without the spare: 4
// delivered, 1 held, 25 refused, all 6 suspended in the first wave.
func TestReviewSpareRunInWaves(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	var msgs []hamgen.Message
	for i := range 8 {
		m := hamgen.Petition(5, i)
		m.Rcpts = []string{"anna.weber@parliament.example", fmt.Sprintf("friend%d@mail.example", i)}
		msgs = append(msgs, m)
	}
	if first, cs, _ := r.sendAll(t, msgs); first < 0 || cs != 1 {
		t.Fatalf("the petition is no campaign")
	}
	list, _ := r.store.Campaigns(ctx, time.Time{}, 10)
	id := list[0].ID
	if ok, err := r.store.SpareCampaign(ctx, id, r.now, r.now.Add(7*limits.Day), "abuse-desk"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	_, petition, _ := strings.Cut(string(hamgen.Petition(5, 99).Raw), "\r\n\r\n")
	petition = strings.ReplaceAll(petition, "\r\n", "\n")
	delivered, held, refused, n := 0, 0, 0, 0
	suspended := func(a string) bool { _, s, _ := r.store.Usage(ctx, a, r.now); return s.Active(r.now) }
	for wave := range 6 {
		r.now = r.now.Add(20 * time.Minute)
		m := hamgen.Petition(5, 100+wave)
		m.Account, m.From = "stolen5@isp.example", "stolen5@isp.example"
		m.Rcpts = []string{fmt.Sprintf("pal%d@mail.example", wave)}
		if !suspended(m.Account) {
			if _, err := r.commit(ctx, transaction(t, m.Account, m.Rcpts, m.Raw)); err != nil {
				t.Fatal(err)
			}
		}
		for a := range 5 {
			acct := fmt.Sprintf("stolen%d@isp.example", a)
			n++
			if suspended(acct) {
				refused++
				continue
			}
			rcpt, h, b := phishBody(n)
			b += "\n\nP.S. Please also sign our petition:\n\n" + petition
			r.now = r.now.Add(5 * time.Second)
			tx := transaction(t, acct, []string{rcpt}, []byte(h+"\n\n"+b))
			v, err := r.commit(ctx, tx)
			if err != nil {
				t.Fatalf("wave %d account %d: %v", wave, a, err)
			}
			t.Logf("wave %d account %d: %v %.80q %v", wave, a, v.Action, v.Reason, tx.Stamps())
			if v.Action == policy.Accept {
				delivered++
			} else {
				held++
			}
		}
	}
	sus := 0
	for a := range 6 {
		if suspended(fmt.Sprintf("stolen%d@isp.example", a)) {
			sus++
		}
	}
	all, _ := r.store.Campaigns(ctx, time.Time{}, 10)
	t.Logf("spared %s; 5 lure accounts, 6 waves 20 min apart: %d lure copies delivered, %d held, %d refused (suspended); %d of 6 accounts suspended; %d campaign(s)", id, delivered, held, refused, sus, len(all))
	if delivered > 5 {
		t.Errorf("a run of five accounts joined to the spared petition delivered %d of its %d lure copies in 2 hours; %d of its 6 accounts suspended", delivered, n, sus)
	}
	if sus != 6 {
		t.Errorf("%d of the run's 6 accounts suspended, want all", sus)
	}
}
