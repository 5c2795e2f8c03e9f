package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"outguard/internal/harness"
)

// milterdHost is the milterd binary behind a real Postfix.
type milterdHost struct {
	md    *exec.Cmd
	pf    *harness.Postfix
	start func() *exec.Cmd // starts milterd again with its config
}

// startMilterdHost starts bin with a config of its own in dir (its
// socket there, Postfix may reach it; state_dir state; then the lines of
// rest), logging to logs, and a real Postfix (mta, with the milter and a
// sink to relay to) in front of it.
func startMilterdHost(t *testing.T, bin, dir, state, rest string, mta harness.MTAConfig, logs *harness.LogBuffer) *milterdHost {
	t.Helper()
	sock := filepath.Join(dir, "m.sock")
	cfg := filepath.Join(dir, "milterd.yaml")
	text := fmt.Sprintf("listen: unix:%s\nsocket_mode: \"0666\"\nsocket_group: \"\"\nstate_dir: %s\n%s", sock, state, rest)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &milterdHost{start: func() *exec.Cmd { return harness.StartMilterd(t, bin, cfg, "unix:"+sock, logs) }}
	h.md = h.start()
	mta.Milter, mta.RelayPort = "unix:"+sock, harness.StartSink(t).Port
	h.pf = harness.StartPostfix(t, mta)
	return h
}

// sendThree sends three messages of alice's through s to a receiver that
// answers 4xx: they stay in the MTA's queue.
func sendThree(t *testing.T, s *harness.Stack) {
	t.Helper()
	s.Sink.Defer("later@remote.test")
	for i := range 3 {
		if r := s.Dial(t).Send("alice@customer.test", []string{"later@remote.test"}, harness.Msg("alice@customer.test", "later@remote.test", fmt.Sprint("queued ", i), "spam")); r.Err != nil {
			t.Fatalf("send %d: %s", i, harness.Reply(r.Err))
		}
	}
}
