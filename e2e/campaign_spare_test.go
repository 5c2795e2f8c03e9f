package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/quarantine"
)

// Through Postfix, on each store, with the example config's campaign
// defaults (issue 28): customers each writing the petition letter to
// their own MP are taken for a campaign at the fifth (a known limit:
// docs/suspension.md), and all five are suspended. The abuse desk judges
// it innocent and runs milterctl campaigns spare: the five are lifted
// and can send again; a lifted one writing the letter again is held as
// before (250, delivered to nobody, in the quarantine) but suspended no
// more; a sixth signer is held and suspended, as without the spare,
// until the desk spares again. A phishing run from five other customers
// meanwhile is found and its senders suspended as without the spare.
func TestCampaignSpareThroughPostfix(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			users := campaignUsers(5)
			letters := petitionLetters(users, 7)
			yaml := campaignYAML(t, kind, filepath.Join(harness.Dir(t, "alerts"), "alerts"), "[isp.test]")
			s, cfg, res := harness.ConfigStack(t, yaml, harness.MTAConfig{Users: users})
			ctlConf := writeConfig(t, "state_dir: "+cfg.StateDir+"\n"+yaml)
			r := &campaignRig{s: s, res: res, users: users}
			ctx := context.Background()
			letter := func(m hamgen.Message) string {
				t.Helper()
				return r.send(t, m.Account, m.From, m.Rcpts, m.Raw)
			}
			for _, m := range letters[:5] {
				if got := letter(m); got != "250" {
					t.Fatalf("%s's letter: %q", m.Account, got)
				}
			}
			if got := sorted(r.suspended(t)); !slices.Equal(got, []string{"p0", "p1", "p2", "p3", "p4"}) {
				t.Fatalf("suspended after five letters: %v (the known limit: want all five)", got)
			}
			list, err := res.Store.(limits.CampaignStore).Campaigns(ctx, time.Time{}, 10)
			if err != nil || len(list) != 1 {
				t.Fatalf("campaigns %+v %v", list, err)
			}
			id := list[0].ID

			out, code := milterctl(t, bin, ctlConf, "campaigns", "spare", id)
			if code != 0 || strings.Count(out, " unsuspended (spared): ") != 5 {
				t.Fatalf("campaigns spare (%d):\n%s", code, out)
			}
			if got := r.suspended(t); len(got) != 0 {
				t.Fatalf("suspended after the spare: %v", got)
			}
			// A lifted signer writing to another MP: held, not suspended.
			// A sixth signer, after the spare: held and suspended, as
			// without it, until the desk spares it too.
			again := letters[0]
			again.Rcpts = []string{"mp6b@parliament.example"}
			for _, m := range []hamgen.Message{again, letters[5]} {
				if got := letter(m); got != "250" {
					t.Fatalf("%s's letter after the spare: %q, want 250 (held)", m.Account, got)
				}
			}
			if got := r.suspended(t); !slices.Equal(got, []string{"p5"}) {
				t.Fatalf("suspended after the spare: %v, want the sixth signer only", got)
			}
			held, err := res.Quarantine.List(ctx, quarantine.Filter{})
			if err != nil || len(held) != 2 {
				t.Fatalf("held %d (%v), want the 2 letters after the spare", len(held), err)
			}
			if out, code = milterctl(t, bin, ctlConf, "campaigns", "spare", id); code != 0 || !strings.Contains(out, "p5 unsuspended (spared)") || !strings.Contains(out, "p0 not suspended") {
				t.Fatalf("the second spare (%d):\n%s", code, out)
			}
			if got := r.suspended(t); len(got) != 0 {
				t.Fatalf("suspended after the second spare: %v", got)
			}
			// A lifted signer's own mail goes through.
			if got := r.send(t, "p1", "p1@customer.test", []string{"friend@mail.test"}, []byte(spreadMsg("lunch on Friday?"))); got != "250" {
				t.Fatalf("a lifted signer's other mail: %q", got)
			}
			// A phishing run is found as before.
			r.phishRun(t, []string{"c0", "c1", "c2", "c3", "c4"}, nil)
			s.Sink.Wait(t, 5+1+5, 60*time.Second)
			if out, code = milterctl(t, bin, ctlConf, "campaigns", "show", id); code != 0 || !strings.Contains(out, "Spared:") || !strings.Contains(out, "7 (2 held)") {
				t.Errorf("campaigns show (%d):\n%s", code, out)
			}
		})
	}
}

// The console's Spare in a real browser, on the petition of
// TestCampaignSpareThroughPostfix (SQLite): a reviewer is offered no
// Spare; an admin's Spare lifts the five signers (one line each on the
// result page), the campaign's page says by whom, a lifted signer's mail
// goes through, the audit trail has the spare by the console's user, and
// Unspare ends it.
func TestWebCampaignSpareInBrowser(t *testing.T) {
	t.Parallel()
	harness.Require(t, chromium)
	users := map[string]string{}
	letters := petitionLetters(users, 5)
	yaml := campaignYAML(t, "sqlite", filepath.Join(harness.Dir(t, "alerts"), "alerts"), "[isp.test]")
	s, cfg, res := harness.ConfigStack(t, yaml, harness.MTAConfig{Users: users})
	r := &campaignRig{s: s, res: res, users: users}
	for _, m := range letters {
		if got := r.send(t, m.Account, m.From, m.Rcpts, m.Raw); got != "250" {
			t.Fatalf("%s's letter: %q", m.Account, got)
		}
	}
	if got := sorted(r.suspended(t)); !slices.Equal(got, []string{"p0", "p1", "p2", "p3", "p4"}) {
		t.Fatalf("suspended after five letters: %v (the known limit: want all five)", got)
	}
	list, err := res.Store.(limits.CampaignStore).Campaigns(context.Background(), time.Time{}, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("campaigns %+v %v", list, err)
	}
	id := list[0].ID
	c := &console{url: runConsole(t, "state_dir: "+cfg.StateDir+"\n"+yaml)}
	page := c.url + "/campaigns/" + id
	browserCtx := startBrowser(t)

	rev := tab(t, browserCtx)
	rev.login(t, c, "reviewer")
	rev.do(t, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#spared`)))
	if n := eval[int](t, rev, `document.querySelectorAll('#spare, #unspare').length`); n != 0 {
		t.Errorf("a reviewer is offered %d campaign actions", n)
	}

	adm := tab(t, browserCtx)
	adm.login(t, c, "admin")
	adm.do(t, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#spare`)))
	if sp := adm.text(t, `#spared`); sp != "no" {
		t.Errorf("spared before the spare: %q", sp)
	}
	adm.do(t, chromedp.Click(chromedp.CSS(`#spare`)), chromedp.WaitVisible(chromedp.CSS(`#outcome`)))
	if out := adm.text(t, `#outcome`); !strings.Contains(out, id+" spared for 5 of its 5 accounts") {
		t.Errorf("spare: %s", out)
	}
	if n := eval[int](t, adm, `[...document.querySelectorAll('#lines li')].filter(l => l.innerText.includes(' unsuspended (spared): ')).length`); n != 5 {
		t.Errorf("%d accounts shown lifted, want 5:\n%s", n, adm.text(t, `main`))
	}
	adm.screenshot(t, "campaign-spared")
	if got := r.suspended(t); len(got) != 0 {
		t.Fatalf("suspended after the console's spare: %v", got)
	}
	if got := r.send(t, "p1", "p1@customer.test", []string{"friend@mail.test"}, []byte(spreadMsg("lunch on Friday?"))); got != "250" {
		t.Errorf("a lifted signer's other mail: %q", got)
	}
	adm.do(t, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#unspare`)))
	if sp := adm.text(t, `#spared`); !strings.Contains(sp, "by web:admin") {
		t.Errorf("spared shown as %q", sp)
	}
	adm.do(t, chromedp.Navigate(c.url+"/audit"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	if audit := adm.text(t, `table.list`); !strings.Contains(audit, "web:admin\tcampaign spare\t"+id) {
		t.Errorf("audit trail lacks the spare:\n%s", audit)
	}
	adm.do(t, chromedp.Navigate(page), chromedp.Click(chromedp.CSS(`#unspare`)), chromedp.WaitVisible(chromedp.CSS(`#outcome`)))
	if sp, err := res.Store.(limits.CampaignStore).CampaignByID(context.Background(), id); err != nil || sp == nil || sp.Spared != nil {
		t.Errorf("after Unspare: %+v %v, want no spare", sp, err)
	}
}

// petitionLetters are n customers' petition letters (p0, p1…), each to
// an MP of its own; their logins are added to users.
func petitionLetters(users map[string]string, n int) []hamgen.Message {
	var letters []hamgen.Message
	for i := range n {
		m := customer(hamgen.Petition(28, i), "p", i)
		m.Rcpts = []string{fmt.Sprintf("mp%d@parliament.example", i)}
		users[m.Account] = "secret-" + m.Account
		letters = append(letters, m)
	}
	return letters
}
