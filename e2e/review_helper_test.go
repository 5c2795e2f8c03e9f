package e2e

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"

	"outguard/internal/harness"
)

// Review of #29: the helper sudo runs (etc/libexec/outguard-postsuper) on
// a real Postfix with enable_long_queue_ids = yes: it holds the long ids
// (letters beyond hex, such as 4XyZ1234abcdzz), and it refuses a NUL byte
// inside an id. Before, the shell's command substitution dropped the NUL
// silently, so "4XyZ1\0234abcd" was taken as the id 4XyZ1234abcd and held.
func TestReviewHelperLongIDsAndNUL(t *testing.T) {
	t.Parallel()
	text := storeConfig(t, "sqlite", "  on_suspend_queued: keep\n")
	main := maps.Clone(retryFast)
	main["enable_long_queue_ids"] = "yes"
	s, cfg, _ := harness.ConfigStack(t, text, harness.MTAConfig{Main: main})
	h := &containmentHost{s: s, cfg: cfg}
	ids := h.deferThree(t)
	for _, id := range ids {
		if len(id) <= 12 || strings.Trim(id, "0123456789ABCDEF") == "" {
			t.Fatalf("queue id %q: not a long queue id", id)
		}
	}
	helper := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("../etc/libexec/outguard-postsuper", args...)
		cmd.Env = append(os.Environ(), "OUTGUARD_TEST_POSTFIX_CONFIG_DIR="+s.Postfix.Dir)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for name, stdin := range map[string]string{
		"a NUL inside an id":   ids[0][:5] + "\x00" + ids[0][5:] + "\n",
		"a NUL after an id":    ids[0] + "\x00\n",
		"a NUL line among ids": ids[0] + "\n\x00\n" + ids[1] + "\n",
	} {
		if out, err := helper(stdin, "hold"); err == nil {
			t.Errorf("%s: accepted\n%s", name, out)
		}
		if held := inQueue(t, s.Postfix.Dir, "hold"); len(held) != 0 {
			t.Fatalf("%s: %v held", name, held)
		}
	}
	if out, err := helper(strings.Join(ids, "\n")+"\n", "hold"); err != nil {
		t.Fatalf("hold of the long ids: %v\n%s", err, out)
	}
	if held := inQueue(t, s.Postfix.Dir, "hold"); fmt.Sprint(held) != fmt.Sprint(ids) {
		t.Errorf("held %v; want %v", held, ids)
	}
}
