package rules

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"outguard/config"
	"outguard/internal/mailcorpus"
	"outguard/policy"
)

// exampleEngine is the engine milterd builds from the example config's
// rules section as shipped, on the shipped rules.
func exampleEngine(t testing.TB) *Engine {
	abs, _ := filepath.Abs(".")
	sec, err := mailcorpus.ExampleSection("../etc/milterd.example.yaml", "rules", map[string]string{"dir": abs, "watch": "false"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("example.yaml", []byte("state_dir: "+t.TempDir()+"\n"+sec))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngineFromConfig(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEvasionCorpus: every packaging of a program or a phishing page in
// the attacker's corpus is refused or held by the shipped rules with the
// example config's defaults; ordinary mail is accepted.
func TestEvasionCorpus(t *testing.T) {
	e := exampleEngine(t)
	for _, c := range append(mailcorpus.Hostile(), mailcorpus.Ordinary()...) {
		t.Run(c.Name, func(t *testing.T) {
			res, err := e.Scan(context.Background(), bytes.NewReader(c.Msg), int64(len(c.Msg)), "alice", "alice@customer.test")
			if err != nil {
				t.Fatal(err)
			}
			var notes []string
			note := func(s string) { notes = append(notes, s) }
			v := e.Decide(res, note, note)
			blocked := v.Action == policy.Reject || v.Action == policy.Quarantine
			t.Logf("%s: %v %s", c.Name, v.Action, v.Reason)
			if blocked != c.Block {
				t.Errorf("%s: %v %s (notes %q, findings %+v)", c.Form, v.Action, v.Reason, notes, res.Findings)
			}
		})
	}
}
