package harness

import (
	"os/exec"
	"syscall"
	"time"
)

// Start starts cmd and has it stopped by PID at cleanup: SIGTERM, then
// SIGKILL after 5 s; with Setpgid, its whole process group. The channel is
// closed when the process has exited.
func Start(t T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	if a := cmd.SysProcAttr; a != nil && a.Setpgid {
		pid = -pid
	}
	t.Cleanup(func() { stop(pid, done) })
	return done
}

// stop ends pid (a process group when negative) unless it already exited.
func stop(pid int, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		<-done
	}
}

// Pause stops a started process (SIGSTOP): it keeps its sockets, accepts
// connections into their backlog and answers nothing, like a hung server.
func Pause(cmd *exec.Cmd) { cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused process go on (SIGCONT).
func Resume(cmd *exec.Cmd) { cmd.Process.Signal(syscall.SIGCONT) }
