package probe

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"outguard/internal/yamlconf"
)

// relayprobe killed while its alert is on the way (systemd's
// RuntimeMaxSec, an OOM kill, a reboot: SIGKILL, nothing runs after it)
// has recorded the block in blocks.json, so the next run has nothing new
// to tell: the alert is kept before the state that makes it "told", and
// the next run delivers it. Before, the block was kept and its alert
// lost: the customer and the abuse desk never heard of it.
func TestReviewBlockAlertSurvivesKill(t *testing.T) {
	if dir := os.Getenv("REVIEW_KILL_DIR"); dir != "" {
		// The helper process: a block run whose alert hangs until killed.
		cfg := Default()
		cfg.StateDir = dir
		cfg.Block = &BlockConfig{Duration: yamlconf.Duration(7 * 24 * time.Hour), Timeout: yamlconf.Duration(30 * time.Second),
			Files: FileBackends{List: filepath.Join(dir, "list")}}
		cfg.Alert = yamlconf.Alert{Command: []string{"sh", "-c", "echo $$ > " + dir + "/alerting; exec sleep 30"}, Timeout: yamlconf.Duration(time.Minute)}
		Enforce(context.Background(), cfg, time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC), false, slog.New(slog.DiscardHandler))
		return
	}
	l := newBlockLab(t)
	l.save(0, true, relay(Confirmed))
	cmd := exec.Command(os.Args[0], "-test.run=^TestReviewBlockAlertSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REVIEW_KILL_DIR="+l.dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for l.file("alerting") == "" {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the helper's alert never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if pid, err := strconv.Atoi(strings.TrimSpace(l.file("alerting"))); err == nil {
		syscall.Kill(pid, syscall.SIGKILL) // the alert command, in its own group
	}
	if bs, err := LoadBlocks(l.dir); err != nil || len(bs) != 1 {
		t.Fatalf("the killed run did not keep its block: %v %+v", err, bs)
	}
	got := filepath.Join(l.dir, "alerts")
	l.cfg.Alert = yamlconf.Alert{Command: []string{"sh", "-c", "cat >> " + got + "; echo >> " + got}, Timeout: yamlconf.Duration(10 * time.Second)}
	l.enforce(2)
	if a := l.file("alerts"); strings.Count(a, `"event":"relayprobe-block"`) != 1 || !strings.Contains(a, `"addr":"192.0.2.7"`) {
		t.Errorf("the block of the killed run was never told: %q", a)
	}
}
