package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"outguard/internal/harness"
)

// The console lists an account's queued mail with postqueue -j (README
// "Web console"), which reaches Postfix's showq socket in public/ (mode
// 2710 postfix:postdrop) through its setgid postdrop bit. Its unit sets
// NoNewPrivileges, so the bit does nothing there: without postdrop among
// its groups every account page said "Connect to the Postfix showq
// service: Permission denied". postqueue is run here as the unit runs it
// (no new privileges, the unit's groups) against this machine's Postfix,
// read only: it must get past the permission check (to the queue, or to
// "mail system is down" when no master runs).
func TestWebUnitReachesTheQueue(t *testing.T) {
	harness.Require(t, "postqueue", "setpriv")
	if os.Geteuid() != 0 {
		t.Fatal("running postqueue as the unit's user needs root (as make test runs)")
	}
	unit := serviceSettings(t, "outguard-web.service")
	if unit["NoNewPrivileges"] != "yes" {
		t.Fatalf("outguard-web.service: NoNewPrivileges=%s", unit["NoNewPrivileges"])
	}
	groups := "--clear-groups"
	if g := strings.Fields(unit["SupplementaryGroups"]); len(g) > 0 {
		groups = "--groups=" + strings.Join(g, ",")
	}
	// nobody stands in for outguard, which this machine may not have.
	out, _ := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", groups, "--no-new-privs", "--", "postqueue", "-j").CombinedOutput()
	if strings.Contains(string(out), "Permission denied") {
		t.Errorf("postqueue -j under outguard-web.service's settings: %s", out)
	}
}
