package e2e

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/config"
	"outguard/internal/harness"
	"outguard/internal/mailcorpus"
	"outguard/policy"
	"outguard/quarantine"
	"outguard/rules"
	"outguard/setup"
)

// exampleRules is the example config's rules section as shipped, enabled,
// on the repository's rules/.
func exampleRules(t testing.TB) string {
	rulesDir, _ := filepath.Abs("../rules")
	sec, err := mailcorpus.ExampleSection("../etc/milterd.example.yaml", "rules", map[string]string{"dir": rulesDir, "watch": "false"})
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// TestEvasionCorpus: every packaging of a program or a phishing page in
// issue 23's corpus is refused or held by the shipped rules with the
// example config's defaults, in the engine milterd builds; ordinary mail
// is accepted. (TestEvasionThroughPostfix sends the same through Postfix.)
func TestEvasionCorpus(t *testing.T) {
	t.Parallel()
	checkEngine(t, append(mailcorpus.Hostile(), mailcorpus.Ordinary()...))
}

// TestEvasionThroughPostfix: issue 23's attacker corpus through a real
// Postfix and milterd built from the example config's rules section as
// shipped (the repository's rules/), with outguard's quarantine: every
// packaging of a program or a phishing page is refused at end of DATA or
// held, and ordinary mail reaches the recipient's server.
func TestEvasionThroughPostfix(t *testing.T) {
	t.Parallel()
	checkThroughPostfix(t, append(mailcorpus.Hostile(), mailcorpus.Ordinary()...))
}

// checkEngine scans and judges each case as alice's mail in the engine
// milterd builds from the example config's rules section as shipped: a
// case to block must be refused or held, any other accepted.
func checkEngine(t *testing.T, cases []mailcorpus.Case) {
	e := exampleEngine(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			res, err := e.Scan(context.Background(), bytes.NewReader(c.Msg), int64(len(c.Msg)), "alice", "alice@customer.test")
			if err != nil {
				t.Fatal(err)
			}
			var notes []string
			note := func(s string) { notes = append(notes, s) }
			v := e.Decide(res, note, note)
			t.Logf("%s: %v %s", c.Name, v.Action, v.Reason)
			if blocked := v.Action == policy.Reject || v.Action == policy.Quarantine; blocked != c.Block {
				t.Errorf("%s: %v %s (notes %q, anomalies %+v)", c.Form, v.Action, v.Reason, notes, res.Anomalies)
			}
		})
	}
}

// exampleEngine is the rules engine milterd builds from the example
// config's rules section as shipped.
func exampleEngine(t *testing.T) *rules.Engine {
	cfg, err := config.Parse("example.yaml", []byte("state_dir: "+t.TempDir()+"\n"+exampleRules(t)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := setup.RulesEngine(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// checkThroughPostfix sends each case as alice through a real Postfix and
// milterd with the example config's rules section as shipped and the
// quarantine: a case to block must be refused at end of DATA (550 5.7.1)
// or held, any other delivered; the sink gets exactly those.
func checkThroughPostfix(t *testing.T, cases []mailcorpus.Case) {
	s, _, res := harness.ConfigStack(t, exampleRules(t)+"quarantine: {}\n", harness.MTAConfig{})
	held := func() int {
		l, err := res.Quarantine.List(context.Background(), quarantine.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	var delivered, ordinary int
	for _, c := range cases {
		before := held()
		r := s.Dial(t).SendFrom("alice@customer.test", []string{"bob@remote.test"}, bytes.NewReader(c.Msg))
		reply := harness.Reply(r.Err)
		refused := strings.HasPrefix(reply, "550 5.7.1")
		wasHeld := reply == "250" && held() == before+1
		if !c.Block {
			ordinary++
		}
		switch {
		case c.Block && !refused && !wasHeld:
			t.Errorf("%s (%s): %q, neither refused nor held", c.Name, c.Form, reply)
		case !c.Block && (reply != "250" || held() != before):
			t.Errorf("ordinary %s (%s): %q, held %d", c.Name, c.Form, reply, held()-before)
		case !c.Block:
			delivered++
		}
	}
	msgs := s.Sink.Wait(t, delivered, 20*time.Second)
	time.Sleep(500 * time.Millisecond) // anything wrongly relayed arrives too
	if n := len(s.Sink.Wait(t, delivered, time.Second)); n != delivered || len(msgs) != ordinary {
		t.Errorf("the sink got %d messages, want the %d ordinary ones", n, ordinary)
	}
}
