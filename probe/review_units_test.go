package probe

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// A block expires block.duration after its last confirmation, not at the
// next nightly scan: only the nftables element times out by itself, while
// block.files and the block.command backend are changed by a run of
// relayprobe. So a shipped timer runs relayprobe block at least hourly, and
// make install lays it out. Before, blocks were lifted only by the nightly
// scan: up to a day past their expiry (more with a scan's random delay).
func TestReviewBlockTimerShipped(t *testing.T) {
	svc, err := os.ReadFile("../etc/systemd/relayprobe-block.service")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ExecStart=/usr/sbin/relayprobe block -config /etc/outguard/relayprobe.yaml$`).Match(svc) {
		t.Errorf("relayprobe-block.service does not run relayprobe block:\n%s", svc)
	}
	if !regexp.MustCompile(`(?m)^RuntimeMaxSec=`).Match(svc) {
		t.Error("relayprobe-block.service has no RuntimeMaxSec: a hung backend would keep the timer from starting another")
	}
	timer, err := os.ReadFile("../etc/systemd/relayprobe-block.timer")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^OnCalendar=(.+)$`).FindStringSubmatch(string(timer)); m == nil || m[1] != "hourly" && !regexp.MustCompile(`^\*-\*-\* \*:\d\d(:\d\d)?$`).MatchString(m[1]) {
		t.Errorf("relayprobe-block.timer does not run hourly or more often:\n%s", timer)
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"relayprobe-block.service", "relayprobe-block.timer"} {
		if strings.Count(string(mk), "etc/systemd/"+u) != 1 || strings.Count(string(mk), "system/"+u) != 2 {
			t.Errorf("make install/uninstall does not handle %s", u)
		}
	}
}
