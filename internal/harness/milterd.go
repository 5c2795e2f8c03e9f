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
	waitMilterd(t, cmd, Start(t, cmd), listen)
	return cmd
}

// StartMilterdOwning is StartMilterd for a config naming a loopback port
// milterd listens on (its metrics): write writes the config for a port
// and returns its path; the port is one milterd itself holds (OwnPort),
// not only one that answers, tried again on another when another process
// took it between the pick and the bind.
func StartMilterdOwning(t T, bin string, write func(port int) string, listen string, logw *LogBuffer) (*exec.Cmd, int) {
	t.Helper()
	port, cmd, done := OwnPort(t, "milterd", 0, func(port int) *exec.Cmd {
		cmd := exec.Command(bin, "-config", write(port))
		cmd.Stderr = logw
		return cmd
	}, logw.String)
	waitMilterd(t, cmd, done, listen)
	return cmd, port
}

// waitMilterd waits until milterd (cmd, done when it exits) accepts
// connections on listen.
func waitMilterd(t T, cmd *exec.Cmd, done <-chan struct{}, listen string) {
	t.Helper()
	network, addr := "tcp", strings.TrimPrefix(listen, "inet:")
	if a, ok := strings.CutPrefix(listen, "unix:"); ok {
		network, addr = "unix", a
	}
	for i := 0; ; i++ {
		if c, err := net.Dial(network, addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("milterd exited at start (%s)", strings.Join(cmd.Args, " "))
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
