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
// defaults: a petition whose signers each write to their own MP is taken
// for a campaign at the fifth signer (a shape docs/suspension.md lists as
// still found), the sixth's letter held and the six suspended. The abuse
// desk runs milterctl campaigns spare: the six are unsuspended, and each
// one's next letter is held (in the quarantine under the campaign,
// delivered to nobody) without suspending it; a phishing run from five
// other customers meanwhile is still found, its senders suspended; a
// signer who first sends it after the spare is suspended (spared whoever
// sends it, a run joined to it was: review rspare).
func TestCampaignSpareThroughPostfix(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	var msgs []hamgen.Message
	users := map[string]string{}
	for i := range 7 {
		m := customer(hamgen.Petition(23, i), "p", i)
		m.Rcpts = []string{fmt.Sprintf("mp%d@parliament.example", i)}
		msgs = append(msgs, m)
		users[m.Account] = "secret-" + m.Account
	}
	run := []string{"q0", "q1", "q2", "q3", "q4"}
	for _, u := range run {
		users[u] = "secret-" + u
	}
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			yaml := campaignYAML(t, kind, filepath.Join(t.TempDir(), "alerts"), "[isp.test]")
			s, cfg, res := harness.ConfigStack(t, yaml, harness.MTAConfig{Users: users})
			r := &campaignRig{s: s, res: res, users: users}
			for i, m := range msgs[:6] {
				if got := r.send(t, m.Account, m.From, m.Rcpts, m.Raw); got != "250" {
					t.Fatalf("signer %d: %q", i, got)
				}
			}
			signers := []string{"p0", "p1", "p2", "p3", "p4", "p5"}
			if got := sorted(r.suspended(t)); !slices.Equal(got, signers) {
				t.Fatalf("suspended %v, want the six signers: pick a shape the engine takes for a campaign", got)
			}
			cs := res.Store.(limits.CampaignStore)
			list, err := cs.Campaigns(context.Background(), time.Time{}, 10)
			if err != nil || len(list) != 1 {
				t.Fatalf("campaigns %+v %v", list, err)
			}
			ctl := writeConfig(t, "state_dir: "+cfg.StateDir+"\n"+yaml)
			out, code := milterctl(t, bin, ctl, "campaigns", "spare", list[0].ID)
			if code != 0 {
				t.Fatalf("campaigns spare: exit %d\n%s", code, out)
			}
			for _, p := range signers {
				if !strings.Contains(out, p+" unsuspended") {
					t.Errorf("campaigns spare did not unsuspend %s:\n%s", p, out)
				}
			}
			if got := r.suspended(t); len(got) != 0 {
				t.Fatalf("suspended after the spare: %v", got)
			}
			for i, m := range msgs[:6] {
				again := []string{fmt.Sprintf("mp%d@parliament.example", 20+i)}
				if got := r.send(t, m.Account, m.From, again, m.Raw); got != "250" {
					t.Fatalf("spared signer %d's next letter: %q", i, got)
				}
			}
			if got := r.suspended(t); len(got) != 0 {
				t.Fatalf("suspended by the spared signers' next letters: %v", got)
			}
			r.phishRun(t, run, nil)
			m := msgs[6]
			if got := r.send(t, m.Account, m.From, m.Rcpts, m.Raw); got != "250" {
				t.Fatalf("a signer after the spare: %q", got)
			}
			if got, want := sorted(r.suspended(t)), sorted(append([]string{"p6"}, run...)); !slices.Equal(got, want) {
				t.Fatalf("suspended %v, want the run's and the signer after the spare %v", got, want)
			}
			// The first five letters delivered; the sixth, held before
			// the spare, the six signers' next ones and the seventh's
			// in the quarantine.
			held, err := res.Quarantine.List(context.Background(), quarantine.Filter{Finding: list[0].ID})
			if err != nil || len(held) != 8 {
				t.Fatalf("held under the campaign: %d %v, want 8", len(held), err)
			}
			r.s.Sink.Wait(t, 5, 60*time.Second)
		})
	}
}
