package harness

import (
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
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
	done := Start(t, cmd)
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

// Build builds cmd/NAME (milterd, milterctl, relayprobe) into dir and
// returns the binary's path.
func Build(t T, dir, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "../../cmd", name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}
