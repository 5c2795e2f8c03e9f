package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/internal/mailcorpus"
	"outguard/quarantine"
)

// TestEvasionThroughPostfix: issue 23's attacker corpus through a real
// Postfix and milterd built from the example config's rules section as
// shipped (the repository's rules/), with outguard's quarantine: every
// packaging of a program or a phishing page is refused at end of DATA or
// held, and ordinary mail reaches the recipient's server.
func TestEvasionThroughPostfix(t *testing.T) {
	t.Parallel()
	rulesDir, _ := filepath.Abs("../rules")
	sec, err := mailcorpus.ExampleSection("../etc/milterd.example.yaml", "rules", map[string]string{"dir": rulesDir, "watch": "false"})
	if err != nil {
		t.Fatal(err)
	}
	s, _, res := harness.ConfigStack(t, sec+"quarantine: {}\n", harness.MTAConfig{})
	held := func() int {
		l, err := res.Quarantine.List(context.Background(), quarantine.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	var delivered int
	for _, c := range append(mailcorpus.Hostile(), mailcorpus.Ordinary()...) {
		before := held()
		r := s.Dial(t).SendFrom("alice@customer.test", []string{"bob@remote.test"}, bytes.NewReader(c.Msg))
		reply := harness.Reply(r.Err)
		refused := strings.HasPrefix(reply, "550 5.7.1")
		wasHeld := reply == "250" && held() == before+1
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
	if n := len(s.Sink.Wait(t, delivered, time.Second)); n != delivered || len(msgs) != len(mailcorpus.Ordinary()) {
		t.Errorf("the sink got %d messages, want the %d ordinary ones", n, len(mailcorpus.Ordinary()))
	}
}
