package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/setup"
)

// The core end-to-end cases on a real Sendmail instead of Postfix: clean
// mail accepted and stamped, EICAR rejected, over a limit tempfailed; and
// what Sendmail does with the recipients it refuses.
func TestSendmail(t *testing.T) {
	maillog := filepath.Join(t.TempDir(), "mail.log")
	harness.StartSyslog(t, maillog)
	cd := harness.StartClamd(t, "30M")
	rulesDir, _ := filepath.Abs("../rules")
	s, cfg, res := harness.ConfigStack(t, `
clamd: {addresses: ["unix:`+cd.Socket+`"]}
rules: {dir: `+rulesDir+`, watch: false}
limits:
  default: {messages_per_hour: 2, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 3}
`, harness.MTAConfig{Sendmail: true, RcptAccess: map[string]string{
		"gone1@remote.test": "REJECT 5.1.1 no such user",
	}})
	send := func(user, pass, body string, rcpts ...string) harness.Result {
		c := harness.Dial(t, s.Postfix.Addr(), user, pass)
		defer c.Quit()
		return c.Send(user+"@customer.test", rcpts, harness.Msg(user+"@customer.test", rcpts[0], "via sendmail", body))
	}
	// Clean: accepted, delivered with the stamp, the SASL login seen.
	if r := send("alice", harness.Pass, "hello", "bob@remote.test"); r.Err != nil {
		t.Fatalf("clean: %s", harness.Reply(r.Err))
	}
	got := s.Sink.Wait(t, 1, 20*time.Second)[0]
	if !strings.Contains(string(got.Data), "X-Outguard:  clean\r\n") && !strings.Contains(string(got.Data), "X-Outguard: clean\r\n") || !strings.Contains(s.Log.String(), "user=alice") {
		t.Errorf("clean message not stamped or not attributed:\n%s", got.Data)
	}
	// EICAR: rejected with the signature.
	r := send("alice", harness.Pass, `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`, "bob@remote.test")
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "550 5.7.1 Message contains malware (Eicar-Test-Signature)") {
		t.Errorf("eicar: %q", got)
	}
	// Over the limit of 2 messages an hour: the third is tempfailed.
	send("alice", harness.Pass, "second", "bob@remote.test")
	r = send("alice", harness.Pass, "third", "bob@remote.test")
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1 Sending limit reached: 2 messages per hour") {
		t.Errorf("over the limit: %q", got)
	}
	// The follower reads Sendmail's log (Sendmail's syslog lines) from here.
	log := harness.Logger(t, &harness.LogBuffer{})
	eng, err := setup.LimitsEngine(cfg, res.Store, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&limits.Follower{Path: maillog, PosFile: filepath.Join(t.TempDir(), "pos"), FromStart: true, Engine: eng, Log: log, Poll: 50 * time.Millisecond}).Run(ctx)
	waitEvents := func(n int) []limits.Undeliverable {
		t.Helper()
		var evs []limits.Undeliverable
		for i := 0; i < 200 && len(evs) < n; i++ {
			time.Sleep(50 * time.Millisecond)
			evs, _ = res.Store.Undeliverables(context.Background(), "bob", time.Now().Add(-time.Hour))
		}
		if len(evs) != n {
			b, _ := os.ReadFile(maillog)
			t.Fatalf("bob's undeliverable recipients: %+v, want %d\n%s", evs, n, b)
		}
		return evs
	}

	// Sendmail refuses the recipients of its access map without calling
	// the milter, even with SMFIP_RCPT_REJ negotiated (Debian's 8.17; tried:
	// access map and error mailer). Its log names the refusal and, in an
	// earlier line of the same process, the session's login: the follower
	// counts them from there.
	r = send("bob", "secret-bob", "guess", "gone1@remote.test", "ok@remote.test")
	if got := harness.Reply(r.Rcpt["gone1@remote.test"]); !strings.Contains(got, "5.1.1") {
		t.Errorf("Sendmail did not refuse gone1: %q", got)
	}
	if evs := waitEvents(1); evs[0].Source != "log" || evs[0].Rcpt != "gone1@remote.test" || evs[0].Status != "5.1.1" {
		t.Errorf("refused at RCPT, from Sendmail's log: %+v", evs[0])
	}
	s.Sink.Wait(t, 3, 20*time.Second) // clean, second, and bob's accepted recipient

	// A recipient the remote MX refuses after Sendmail queued the message
	// is counted from Sendmail's log (dsn=5.x.x, stat=…).
	s.Sink.Refuse("moved@remote.test")
	if r := send("bob", "secret-bob", "later", "moved@remote.test"); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	evs := waitEvents(2)
	moved := evs[0]
	if moved.Rcpt != "moved@remote.test" {
		moved = evs[1]
	}
	if moved.Source != "log" || moved.Rcpt != "moved@remote.test" || moved.Status != "5.1.1" {
		t.Fatalf("bounce from Sendmail's log: %+v", evs)
	}
}

// TestSendmail again, chrooted into a directory that is not a mount point,
// as a packager's build chroot or a debootstrap chroot is: there unshare
// cannot make the root's propagation private (the test Sendmail once
// needed that to bind its own /etc/hosts). The chroot is binds of the
// machine's directories, made in a mount namespace of the test's own
// (private, gone when it ends), with a /dev of its own for the test's
// syslog socket. Run inside a chroot already, it is TestSendmail itself.
func TestSendmailInAChroot(t *testing.T) {
	if !rootIsMountPoint(t) {
		TestSendmail(t)
		return
	}
	harness.Require(t, "unshare", "chroot")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	repo := filepath.Dir(wd) // ../rules, the harness's testdata
	root := harness.Dir(t, "chroot")
	const script = `set -e
r=$1 repo=$2 wd=$3 exe=$4
for d in usr etc opt proc sys; do mkdir -p "$r/$d"; mount --rbind "/$d" "$r/$d"; done
for l in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$r/$l"; elif [ -d "/$l" ]; then mkdir "$r/$l"; mount --rbind "/$l" "$r/$l"; fi
done
mkdir -p "$r/tmp" "$r/dev" "$r$repo" "$r$(dirname "$exe")"
mount --bind /tmp "$r/tmp"
mount --bind "$repo" "$r$repo"
mount --bind "$(dirname "$exe")" "$r$(dirname "$exe")"
mount -t tmpfs tmpfs "$r/dev"
for n in null zero random urandom; do touch "$r/dev/$n"; mount --bind "/dev/$n" "$r/dev/$n"; done
exec chroot "$r" sh -c '
	if unshare --mount --propagation private true 2>/dev/null; then echo "the chroot root is a mount point"; exit 1; fi
	cd "$1" && exec "$2" -test.run "^TestSendmail\$" -test.count=1 -test.v' sh "$wd" "$exe"
`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", root, repo, wd, exe)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSendmail ") {
		t.Fatalf("TestSendmail in a chroot: %v\n%s", err, out)
	}
}

// rootIsMountPoint reports whether / is a mount point of this process's
// mount namespace (it is not in a chroot into a plain directory).
func rootIsMountPoint(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == "/" {
			return true
		}
	}
	return false
}
