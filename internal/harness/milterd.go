package harness

import (
	"io"
	"net"
	"os/exec"
	"strings"
	"time"
)

// StartMilterd runs the milterd binary with cfg, logging to logw, and
// waits until it accepts connections on listen ("unix:/path" or
// "inet:host:port"). It is stopped by PID at cleanup.
func StartMilterd(t T, bin, cfg, listen string, logw io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stderr = logw
	if err := cmd.Start(); err != nil {
		t.Fatalf("milterd: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { StopPID(cmd.Process.Pid, 5*time.Second); <-done })
	network, addr := "tcp", strings.TrimPrefix(listen, "inet:")
	if a, ok := strings.CutPrefix(listen, "unix:"); ok {
		network, addr = "unix", a
	}
	for i := 0; ; i++ {
		if c, err := net.Dial(network, addr); err == nil {
			c.Close()
			return cmd
		}
		select {
		case <-done:
			t.Fatalf("milterd exited at start (config %s)", cfg)
		case <-time.After(20 * time.Millisecond):
		}
		if i > 1000 {
			t.Fatalf("milterd did not listen on %s", listen)
		}
	}
}
