//go:build installed

// Package installtest checks the installed product: `make install` into
// this machine as a package would, milterd started exactly as the systemd
// unit says (read from the unit file), and Debian's own Postfix in
// /etc/postfix, chrooted smtpd and all, configured with the lines of
// docs/postfix.md. It changes the machine and puts it back when it ends,
// so it runs on throwaway machines only: `make test-installed` (CI runs it
// after `make test`), never as part of `go test ./...`.
package installtest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"outguard/internal/harness"
)

const (
	confPath = "/etc/outguard/milterd.yaml"
	unitPath = "/lib/systemd/system/milterd.service"
	// webUnitPath is the console's (milterctl web).
	webUnitPath = "/lib/systemd/system/outguard-web.service"
)

func TestInstalledProduct(t *testing.T) {
	harness.Require(t, "postfix", "postconf", "saslpasswd2", "setpriv")
	if os.Getenv("OUTGUARD_INSTALLED_TEST") != "yes" {
		t.Fatal("this test installs outguard into the machine and reconfigures /etc/postfix: run it with `make test-installed` on a throwaway machine")
	}
	// A system Postfix that runs (a machine whose packages start their
	// services) is stopped for the test and started again after it.
	if exec.Command("postfix", "status").Run() == nil {
		run(t, "postfix", "stop")
		t.Cleanup(func() { exec.Command("postfix", "start").Run() })
	}
	root, _ := filepath.Abs("../..")
	restore := snapshot(t, "/etc/postfix/main.cf", "/etc/postfix/master.cf", "/etc/postfix/sasl/smtpd.conf", confPath)
	_, hadUser := user.Lookup("outguard")
	t.Cleanup(func() {
		run(t, "make", "-C", root, "uninstall")
		os.RemoveAll("/var/spool/postfix/outguard-test")
		os.RemoveAll("/etc/outguard/rules")
		restore()
		os.Remove("/etc/outguard") // only when empty: it was not there before
		if hadUser != nil {
			exec.Command("userdel", "outguard").Run()
		}
	})
	run(t, "make", "-C", root, "install")

	// The unit, as systemd would apply it.
	u := readUnit(t, unitPath)
	usr, err := user.Lookup(u.one(t, "User"))
	if err != nil {
		t.Fatalf("the unit's User: %v", err)
	}
	grp, err := user.LookupGroup(u.one(t, "Group"))
	if err != nil {
		t.Fatalf("the unit's Group: %v", err)
	}
	uid, _ := strconv.Atoi(usr.Uid)
	gid, _ := strconv.Atoi(grp.Gid)
	// What systemd makes before ExecStartPre: its directories, owned by
	// User:Group with the declared mode (0755 when none is).
	for kind, base := range map[string]string{"StateDirectory": "/var/lib", "RuntimeDirectory": "/run"} {
		mode := uint64(0o755)
		if len(u.all(kind+"Mode")) > 0 {
			mode, _ = strconv.ParseUint(u.one(t, kind+"Mode"), 8, 32)
		}
		for _, name := range u.all(kind) {
			dir := filepath.Join(base, name)
			os.MkdirAll(dir, os.FileMode(mode))
			os.Chmod(dir, os.FileMode(mode))
			os.Chown(dir, uid, gid)
			t.Cleanup(func() { os.RemoveAll(dir) })
		}
	}

	// The postmaster enables the engines that keep state; the socket stays
	// where the installed config puts it.
	f, _ := os.OpenFile(confPath, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\nlimits: {}\nquarantine: {}\n")
	f.Close()
	checkOwner(t, confPath, 0, gid, 0o640)
	sock := listenPath(t)
	writable := append(u.all("ReadWritePaths"), mapPrefix("/var/lib/", u.all("StateDirectory"))...)
	writable = append(writable, mapPrefix("/run/", u.all("RuntimeDirectory"))...)
	if !under(filepath.Dir(sock), writable) {
		t.Errorf("the socket's directory %s is not writable under the unit's sandbox (ReadWritePaths/StateDirectory: %v)", filepath.Dir(sock), writable)
	}
	for _, p := range u.all("ReadWritePaths") {
		if _, err := os.Stat(strings.TrimPrefix(p, "-")); err != nil {
			t.Errorf("ReadWritePaths=%s: %v (systemd refuses to start the unit)", p, err)
		}
	}

	// milterd as the unit starts it: ExecStartPre must pass, then ExecStart.
	if out, err := asUnit(t, u, u.one(t, "ExecStartPre")).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre as %s: %v\n%s", usr.Username, err, out)
	}
	var log harness.LogBuffer
	cmd := asUnit(t, u, u.one(t, "ExecStart"))
	cmd.Stdout, cmd.Stderr = &log, &log
	harness.Start(t, cmd)
	waitFor(t, func() bool { return strings.Contains(log.String(), "milterd started") }, &log)
	checkOwner(t, sock, uid, groupID(t, "postfix"), 0o660|os.ModeSocket)

	// Debian's Postfix, with docs/postfix.md's main.cf lines; a sink as the
	// relayhost and a sasldb inside the chroot for the test's login.
	sink := harness.StartSink(t)
	lines := docLines(t, filepath.Join(root, "docs/postfix.md"))
	os.MkdirAll("/var/spool/postfix/outguard-test", 0o755)
	db := "/var/spool/postfix/outguard-test/sasldb2"
	pw := exec.Command("saslpasswd2", "-p", "-c", "-f", db, "-u", "outguard.test", "alice")
	pw.Stdin = strings.NewReader("secret")
	if out, err := pw.CombinedOutput(); err != nil {
		t.Fatalf("saslpasswd2: %v %s", err, out)
	}
	os.Chmod(db, 0o644)
	os.WriteFile("/etc/postfix/sasl/smtpd.conf", []byte("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: /outguard-test/sasldb2\n"), 0o644)
	postconf := append(lines,
		"relayhost = [127.0.0.1]:"+strconv.Itoa(sink.Port),
		"inet_interfaces = 127.0.0.1", "inet_protocols = ipv4",
		"myhostname = outguard.test", "mydestination =",
		"smtpd_sasl_auth_enable = yes")
	run(t, "postconf", append([]string{"-e"}, postconf...)...)
	if exec.Command("postconf", "-h", "smtpd_milters").Run() != nil {
		t.Fatal("postconf")
	}
	if chroot, _ := exec.Command("postconf", "-M", "smtp/inet").Output(); !regexp.MustCompile(`smtp\s+inet\s+n\s+-\s+y\s`).Match(chroot) {
		t.Fatalf("Debian's master.cf no longer chroots smtpd: %s", chroot)
	}
	if _, err := os.Stat("/usr/lib/postfix/configure-instance.sh"); err == nil {
		run(t, "/usr/lib/postfix/configure-instance.sh", "-") // what postfix@-.service runs first: the chroot's files
	}
	run(t, "postfix", "start")
	t.Cleanup(func() { exec.Command("postfix", "stop").Run(); time.Sleep(time.Second) })
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:25")
		if err == nil {
			c.Close()
		}
		return err == nil
	}, &log)

	c := harness.Dial(t, "127.0.0.1:25", "alice", "secret")
	if r := c.Send("alice@customer.test", []string{"bob@remote.test"}, harness.Msg("alice@customer.test", "bob@remote.test", "installed", "hello")); r.Err != nil {
		t.Fatalf("submission: %s\nmilterd:\n%s", harness.Reply(r.Err), log.String())
	}
	got := sink.Wait(t, 1, 30*time.Second)[0]
	if !bytes.Contains(got.Data, []byte("X-Outguard: clean")) || !strings.Contains(log.String(), "user=alice") {
		t.Errorf("delivered without the stamp or the login:\n%s\nmilterd:\n%s", got.Data, log.String())
	}

	// The operator runs milterctl with sudo; milterd must still own every
	// file in its state directory afterwards.
	for _, args := range [][]string{{"accounts", "list"}, {"quarantine", "list"}, {"accounts", "suspend", "mallory", "--reason", "installed test"}} {
		if out, err := exec.Command("/usr/sbin/milterctl", args...).CombinedOutput(); err != nil {
			t.Errorf("milterctl %v as root: %v\n%s", args, err, out)
		}
	}
	filepath.Walk("/var/lib/outguard", func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
				t.Errorf("%s is owned by uid %d after milterctl, not %s", p, st.Uid, usr.Username)
			}
		}
		return nil
	})
	privilegedStep(t)

	// milterd, as outguard, still writes its store: the next message counts.
	c = harness.Dial(t, "127.0.0.1:25", "alice", "secret")
	if r := c.Send("alice@customer.test", []string{"bob@remote.test"}, harness.Msg("alice@customer.test", "bob@remote.test", "again", "hello")); r.Err != nil {
		t.Fatalf("second submission: %s\nmilterd:\n%s", harness.Reply(r.Err), log.String())
	}
	out, _ := exec.Command("/usr/sbin/milterctl", "accounts", "show", "alice").CombinedOutput()
	if !strings.Contains(string(out), "2/200") {
		t.Errorf("milterd did not count alice's two messages:\n%s\nmilterd:\n%s", out, log.String())
	}

	// The console as its unit starts it, on the stores milterd writes: it
	// lists the quarantine and alice's count.
	f, _ = os.OpenFile(confPath, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("web: {listen: \"127.0.0.1:8026\", users_file: /etc/outguard/web-users}\n")
	f.Close()
	t.Cleanup(func() { os.Remove("/etc/outguard/web-users") })
	add := exec.Command("/usr/sbin/milterctl", "web", "adduser", "rev", "reviewer")
	add.Stdin = strings.NewReader("a long enough password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("milterctl web adduser as root: %v\n%s", err, out)
	}
	var weblog harness.LogBuffer
	web := asUnit(t, readUnit(t, webUnitPath), readUnit(t, webUnitPath).one(t, "ExecStart"))
	web.Stdout, web.Stderr = &weblog, &weblog
	harness.Start(t, web)
	waitFor(t, func() bool { return strings.Contains(weblog.String(), "web console listening") }, &weblog)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:8026/api/accounts/alice", nil)
	req.SetBasicAuth("rev", "a long enough password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the console: %v\n%s", err, weblog.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "alice") {
		t.Errorf("the console as its unit runs it: %d %s\n%s", resp.StatusCode, body, weblog.String())
	}
}

// asUnit runs cmdline as unit u would: its User, Group,
// SupplementaryGroups, NoNewPrivileges (which voids setuid and setgid
// bits, postqueue's among them) and UMask.
func asUnit(t *testing.T, u unit, cmdline string) *exec.Cmd {
	args := []string{"--reuid=" + u.one(t, "User"), "--regid=" + u.one(t, "Group"), "--clear-groups"}
	if g := u.all("SupplementaryGroups"); len(g) > 0 {
		args[2] = "--groups=" + strings.Join(g, ",")
	}
	if strings.Join(u.all("NoNewPrivileges"), "") == "yes" {
		args = append(args, "--no-new-privs")
	}
	return exec.Command("setpriv", append(args, "--", "sh", "-c", "umask "+u.one(t, "UMask")+" && exec "+cmdline)...)
}

// unit is a systemd unit's [Service] settings, in order.
type unit map[string][]string

func readUnit(t *testing.T, path string) unit {
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the installed unit: %v", err)
	}
	defer f.Close()
	u := unit{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(s.Text()), "=")
		if ok && !strings.HasPrefix(k, "#") {
			u[k] = append(u[k], strings.Fields(v)...)
		}
	}
	return u
}

func (u unit) all(k string) []string { return u[k] }

func (u unit) one(t *testing.T, k string) string {
	if len(u[k]) == 0 {
		t.Fatalf("the unit has no %s=", k)
	}
	return strings.Join(u[k], " ")
}

// docLines returns the main.cf block of docs/postfix.md: one source for
// the doc and the test.
func docLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(b, []byte("<!-- main.cf lines: read by internal/installtest -->\n```\n"))
	block, _, ok2 := bytes.Cut(rest, []byte("```"))
	if !ok || !ok2 {
		t.Fatalf("%s: the marked main.cf block is missing", path)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(block)), "\n") {
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

func listenPath(t *testing.T) string {
	out, err := exec.Command("grep", "-E", "^listen: unix:", confPath).Output()
	if err != nil {
		t.Fatalf("the installed config has no unix listen line: %v", err)
	}
	return strings.TrimSpace(strings.TrimPrefix(string(out), "listen: unix:"))
}

func under(dir string, roots []string) bool {
	for _, r := range roots {
		r = strings.TrimPrefix(r, "-")
		if dir == r || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

func mapPrefix(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

func checkOwner(t *testing.T, path string, uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid || fi.Mode()&(os.ModeType|os.ModePerm) != mode {
		t.Errorf("%s: %d:%d %v, want %d:%d %v", path, st.Uid, st.Gid, fi.Mode(), uid, gid, mode)
	}
}

func groupID(t *testing.T, name string) int {
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.Atoi(g.Gid)
	return id
}

// snapshot saves files (or their absence) and returns what puts them back.
func snapshot(t *testing.T, paths ...string) func() {
	type file struct {
		data []byte
		mode os.FileMode
	}
	saved := map[string]file{}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			b, _ := os.ReadFile(p)
			saved[p] = file{b, fi.Mode()}
		}
	}
	return func() {
		for _, p := range paths {
			if f, ok := saved[p]; ok {
				os.WriteFile(p, f.data, f.mode)
			} else {
				os.Remove(p)
			}
		}
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func waitFor(t *testing.T, ok func() bool, log *harness.LogBuffer) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out; milterd:\n%s", log.String())
}

// privilegedStep: as user outguard, sudo runs the installed root-owned
// helper with exactly hold, release or delete, and the helper refuses an
// id that is not one (postsuper's ALL); sudo refuses postsuper itself,
// another word, another argument, and the helper for another user.
func privilegedStep(t *testing.T) {
	const helper = "/usr/lib/outguard/outguard-postsuper"
	fi, err := os.Stat(helper)
	if err != nil {
		t.Fatalf("the helper: %v", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		t.Errorf("%s: uid %d, mode %v; want root's, written by root only", helper, st.Uid, fi.Mode())
	}
	as := func(usr, stdin string, argv ...string) error {
		u, err := user.Lookup(usr)
		if err != nil {
			t.Fatal(err)
		}
		// The user's own primary group (nobody's is nogroup on Debian):
		// a refusal must be sudo's, not setpriv's.
		cmd := exec.Command("setpriv", append([]string{"--reuid", usr, "--regid", u.Gid, "--init-groups", "sudo", "-n"}, argv...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		t.Logf("as %s: sudo -n %v: %v %s", usr, argv, err, out)
		return err
	}
	// A well-formed id Postfix does not have: postsuper says nothing.
	for _, word := range []string{"hold", "release", "delete"} {
		if err := as("outguard", "ABCDEF12345\n", helper, word); err != nil {
			t.Errorf("outguard may not run %s %s: %v", helper, word, err)
		}
	}
	for _, c := range []struct {
		usr, stdin string
		argv       []string
	}{
		{"outguard", "ALL\n", []string{helper, "delete"}},
		{"outguard", "ABCDEF12345\n", []string{"/usr/sbin/postsuper", "-c", "/etc/postfix", "-d", "-"}},
		{"outguard", "ABCDEF12345\n", []string{"/usr/sbin/postsuper", "-d", "ALL"}},
		{"outguard", "ABCDEF12345\n", []string{helper, "requeue"}},
		{"outguard", "ABCDEF12345\n", []string{helper, "hold", "x"}},
		{"outguard", "ABCDEF12345\n", []string{helper}},
		{"nobody", "ABCDEF12345\n", []string{helper, "hold"}},
	} {
		if err := as(c.usr, c.stdin, c.argv...); err == nil {
			t.Errorf("as %s, sudo -n %v with %q was allowed", c.usr, c.argv, c.stdin)
		}
	}
}
