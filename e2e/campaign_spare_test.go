package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
			var letters []hamgen.Message
			for i := range 7 {
				m := customer(hamgen.Petition(28, i), "p", i)
				m.Rcpts = []string{fmt.Sprintf("mp%d@parliament.example", i)}
				users[m.Account] = "secret-" + m.Account
				letters = append(letters, m)
			}
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
