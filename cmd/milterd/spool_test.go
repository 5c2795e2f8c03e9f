package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"outguard/internal/harness"
)

// mountTmpfs mounts a tmpfs of size at a directory of the test's own and
// unmounts it at the end: lazily (MNT_DETACH), for a test that fails with
// messages open leaves a milterd killed but perhaps not yet gone, holding
// spool files, and a busy tmpfs would stay mounted.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("mounting a tmpfs needs root (as make test runs)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	return dir
}

// bodySession opens a milter session and sends a message of n body bytes,
// all but its end.
func bodySession(t *testing.T, socket string, n int) *gomilter.ClientSession {
	t.Helper()
	s, err := harness.MilterHeaders("unix", socket, " spool")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	chunk := bytes.Repeat([]byte("0123456789abcde\n"), 4095)
	for sent := 0; sent < n; sent += len(chunk) {
		if _, err := s.BodyChunk(chunk); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// spool.max_total on a small tmpfs: of three concurrent 2 MiB messages,
// the two that fit in 5 MiB are accepted; the third, which would pass it,
// gets a tempfail naming the budget; once they are done, the room is free
// again, and nothing is left on the tmpfs.
//
// The overlap is forced, not left to the kernel's socket buffers: body
// chunks get no reply (SMFIP_NR_BODY), so the first two messages are known
// to be spooled only when the tmpfs holds them, and the third is ended
// while they are still open.
func TestSpoolBudget(t *testing.T) {
	tmpfs := mountTmpfs(t, "6m")
	d, _ := hostile(t, fmt.Sprintf("spool: {dir: %s, memory_limit: 64KiB, max_total: 5MiB}\n", tmpfs), "")
	const size = 2 << 20
	var sessions []*gomilter.ClientSession
	for i := range 3 {
		if i == 2 {
			waitUsed(t, tmpfs, 2*size)
		}
		sessions = append(sessions, bodySession(t, d.socket, size))
	}
	_, act, err := sessions[2].End()
	if err != nil {
		t.Fatal(err)
	}
	if act.Type != gomilter.ActionRejectWithCode || act.SMTPCode/100 != 4 {
		t.Errorf("message 2, past the budget: %+v, want a tempfail", act)
	}
	sessions[2].Close()
	// The verdict line is written before the reply, but reaches d.log
	// through a pipe copied by another goroutine of this process.
	d.waitLog(t, "max_total reached")
	for i, s := range sessions[:2] {
		_, act, err := s.End()
		if err != nil {
			t.Fatal(err)
		}
		if act.Type != gomilter.ActionAccept {
			t.Errorf("message %d, within the budget: %+v", i, act)
		}
		s.Close()
	}
	s := bodySession(t, d.socket, 4<<20)
	if _, act, err := s.End(); err != nil || act.Type != gomilter.ActionAccept {
		t.Errorf("a 4 MiB message once the others are done: %v %+v", err, act)
	}
	s.Close()
	d.alive(t, "the spool budget")
	if used := fsUsed(t, tmpfs); used > 0 {
		t.Errorf("%d bytes left on the spool tmpfs", used)
	}
}

// fsUsed is the bytes in use on the file system of dir.
func fsUsed(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return (st.Blocks - st.Bfree) * uint64(st.Bsize)
}

// waitUsed waits until the file system of dir holds n bytes.
func waitUsed(t *testing.T, dir string, n uint64) {
	t.Helper()
	for range 500 {
		if fsUsed(t, dir) >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the spool never held %d bytes (%d)", n, fsUsed(t, dir))
}

// A spool.dir that cannot take a file is refused by -check-config and by
// a reload, and /readyz says so when it goes away under a running milterd.
func TestSpoolDirChecked(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "missing")
	cfg := filepath.Join(dir, "milterd.yaml")
	os.WriteFile(cfg, []byte(configText(filepath.Join(dir, "m.sock"), "X-First")+"socket_group: \"\"\nspool: {dir: "+bad+"}\n"), 0o644)
	out, err := exec.Command(binary, "-config", cfg, "-check-config").CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "spool.dir: ") || !strings.Contains(string(out), "no such file") {
		t.Errorf("-check-config with a missing spool.dir: %v %s", err, out)
	}

	spoolDir := filepath.Join(t.TempDir(), "spool")
	os.Mkdir(spoolDir, 0o700)
	d, port := hostile(t, "spool: {dir: "+spoolDir+"}\n", "")
	text, _ := os.ReadFile(d.config)
	os.WriteFile(d.config, bytes.Replace(text, []byte(spoolDir), []byte(bad), 1), 0o644)
	d.signal(t, syscall.SIGHUP)
	d.waitLog(t, "reload failed")
	if !strings.Contains(d.log.String(), "spool.dir") {
		t.Errorf("the reload error does not name spool.dir:\n%s", tail(d.log.String()))
	}
	get := func() (int, string) { return readyz(t, port) }
	if code, body := get(); code != 200 || !strings.Contains(body, "spool") {
		t.Errorf("readyz with the spool directory there: %d %q", code, body)
	}
	os.Remove(spoolDir)
	if code, body := get(); code != 503 || !strings.Contains(body, "spool: ") {
		t.Errorf("readyz with the spool directory gone: %d %q", code, body)
	}
	d.alive(t, "a spool directory gone") // small messages stay in memory
}
