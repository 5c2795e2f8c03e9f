package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"outguard/internal/harness"
)

// Run as root, milterctl works as the owner of state_dir, so every file it
// creates there stays writable by milterd; run as a user without access,
// it names the missing permission and the user to run it as.
func TestRunsAsStateOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test switches users and needs root")
	}
	bin := harness.Build(t, harness.Dir(t, "ctl"), "milterctl")
	const nobody = 65534
	state := filepath.Join(harness.Dir(t, "state"), "state")
	os.Mkdir(state, 0o700)
	os.Chown(state, nobody, nobody)
	cfg := filepath.Join(filepath.Dir(state), "milterd.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+state+"\nlimits: {}\nquarantine: {}\n"), 0o644)

	for _, args := range [][]string{{"accounts", "list"}, {"quarantine", "list"}, {"accounts", "suspend", "mallory", "--reason", "test"}} {
		if out, err := exec.Command(bin, append([]string{"-config", cfg}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("milterctl %v as root: %v\n%s", args, err, out)
		}
	}
	n := 0
	filepath.Walk(state, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n++
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
			t.Errorf("%s is owned by %d:%d, want the state owner %d:%d", p, st.Uid, st.Gid, nobody, nobody)
		}
		return nil
	})
	if n < 4 { // state_dir, state.db, quarantine/, its index
		t.Errorf("only %d files under state_dir: milterctl did not open the stores", n)
	}

	// A user without access is told what is missing.
	os.Chown(state, 0, 0)
	cmd := exec.Command(bin, "-config", cfg, "accounts", "list")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	want := "milterctl: no read/write access to " + state + " (owned by root, mode -rwx------): run milterctl as root"
	if err == nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("as a user without access: %v\n%s\nwant %q", err, out, want)
	}
	// No state_dir yet: root is told to let milterd create it, not given
	// a root-owned one.
	os.RemoveAll(state)
	out, err = exec.Command(bin, "-config", cfg, "accounts", "list").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not exist: start milterd once") {
		t.Errorf("missing state_dir: %v\n%s", err, out)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("milterctl created state_dir as root")
	}
}
