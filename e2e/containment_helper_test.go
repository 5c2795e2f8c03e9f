package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"outguard/internal/harness"
)

// TestPostsuperHelperIsStrict: the helper the sudoers line allows
// (etc/libexec/outguard-postsuper, run here from the source tree as root
// on the test's own Postfix, as sudo runs it installed) holds and
// releases exactly the queue ids on its stdin, and refuses, without
// running postsuper, postsuper's "ALL", an option or a path among the
// ids, an empty input, a word other than hold/release/delete, a second
// argument, one id more than its bound of 100000, and a byte more than it
// reads (3300000).
func TestPostsuperHelperIsStrict(t *testing.T) {
	t.Parallel()
	h := startContainmentHost(t, storeConfig(t, "sqlite", "  on_suspend_queued: keep\n"), nil, false)
	ids := h.deferThree(t)
	helper := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("../etc/libexec/outguard-postsuper", args...)
		cmd.Env = append(os.Environ(), "OUTGUARD_TEST_POSTFIX_CONFIG_DIR="+h.s.Postfix.Dir)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	many := strings.Repeat("ABCDEF1234\n", 100001)
	for _, c := range []struct {
		name, stdin string
		args        []string
	}{
		{"ALL", "ALL\n", []string{"hold"}},
		{"ALL among ids", ids[0] + "\nALL\n", []string{"hold"}},
		{"an option", ids[0] + "\n-d\n", []string{"hold"}},
		{"a path", "../../etc/passwd\n", []string{"hold"}},
		{"an empty line", ids[0] + "\n\n" + ids[1] + "\n", []string{"hold"}},
		{"nothing", "", []string{"hold"}},
		{"another word", ids[0] + "\n", []string{"requeue"}},
		{"postsuper's option", ids[0] + "\n", []string{"-h"}},
		{"a second argument", ids[0] + "\n", []string{"hold", "-c"}},
		{"no word", ids[0] + "\n", nil},
		{"100001 ids", many, []string{"hold"}},
		{"more than its read bound", strings.Repeat("A", 3300001), []string{"hold"}},
	} {
		if out, err := helper(c.stdin, c.args...); err == nil {
			t.Errorf("%s: accepted\n%s", c.name, out)
		}
		if held := inQueue(t, h.s.Postfix.Dir, "hold"); len(held) != 0 {
			t.Fatalf("%s: refused, but %v held", c.name, held)
		}
	}
	if out, err := helper(ids[0]+"\n"+ids[2]+"\n", "hold"); err != nil {
		t.Fatalf("hold: %v\n%s", err, out)
	}
	if held := inQueue(t, h.s.Postfix.Dir, "hold"); fmt.Sprint(held) != fmt.Sprint([]string{ids[0], ids[2]}) {
		t.Fatalf("held %v; want %v", held, []string{ids[0], ids[2]})
	}
	if out, err := helper(ids[2]+"\n", "release"); err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	if held := inQueue(t, h.s.Postfix.Dir, "hold"); fmt.Sprint(held) != fmt.Sprint([]string{ids[0]}) {
		t.Fatalf("after release: held %v; want %v", held, ids[:1])
	}
	if out, err := helper(ids[0]+"\n", "delete"); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if q := queue(t, h.s.Postfix.Dir); len(q) != 2 || q[ids[0]] != "" {
		t.Errorf("after delete: %v", q)
	}
}

// TestAccountsShowHeldByHand: of alice's three messages deferred in a
// real Postfix, the postmaster holds one by hand (postsuper -h); an
// operator then suspends alice with milterctl, which holds the other two.
// "accounts show" counts the two as containment's and the one as held by
// hand, and "unsuspend --release-queued" releases the two only. Before,
// show listed all three as "hold", the same.
func TestAccountsShowHeldByHand(t *testing.T) {
	t.Parallel()
	h := startContainmentHost(t, storeConfig(t, "sqlite", "  on_suspend_queued: hold\n"), nil, false)
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	ids := h.deferThree(t)
	if out, err := exec.Command("postsuper", "-c", h.s.Postfix.Dir, "-h", ids[1]).CombinedOutput(); err != nil {
		t.Fatalf("postsuper -h: %v %s", err, out)
	}
	if out, code := milterctl(t, bin, h.ctlConf, "accounts", "suspend", harness.User, "--reason", "phished"); code != 0 {
		t.Fatalf("suspend (%d):\n%s", code, out)
	}
	out, code := milterctl(t, bin, h.ctlConf, "accounts", "show", harness.User)
	if code != 0 || !strings.Contains(out, "held by containment: 2; held by hand: 1") ||
		!strings.Contains(out, ids[1]+"\ton hold by hand") || !strings.Contains(out, ids[0]+"\thold\n") || !strings.Contains(out, ids[2]+"\thold\n") {
		t.Errorf("accounts show (%d):\n%s", code, out)
	}
	out, code = milterctl(t, bin, h.ctlConf, "accounts", "unsuspend", harness.User, "--release-queued")
	if code != 0 || !strings.Contains(out, "released: 2 message(s) "+ids[0]+" "+ids[2]) {
		t.Errorf("unsuspend --release-queued (%d):\n%s", code, out)
	}
	if held := inQueue(t, h.s.Postfix.Dir, "hold"); fmt.Sprint(held) != fmt.Sprint(ids[1:2]) {
		t.Errorf("in hold after the release: %v; want only the one held by hand %s", held, ids[1])
	}
}
