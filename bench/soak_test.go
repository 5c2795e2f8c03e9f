package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/quarantine"
)

var (
	soakFor      = flag.Duration("soak.duration", 10*time.Second, "how long the soak test sends (60s for the full run)")
	soakSessions = flag.Int("soak.sessions", 40, "concurrent SMTP sessions (200 for the full run)")
)

// TestSoak: many concurrent sessions through Postfix and the real milterd
// (clamd, shipped rules, limits, quarantine) with a mix of clean,
// infected, phishing and over-limit mail. Every reply must be the expected
// one, every accepted message must reach the sink or the quarantine, and
// milterd's memory must stay bounded. CI runs the short form; the full one:
// go test ./bench -run Soak -soak.duration 60s -soak.sessions 200.
func TestSoak(t *testing.T) {
	dir := harness.Dir(t, "soak")
	bin := harness.Build(t, dir, "milterd")
	cd := harness.StartClamd(t, "40M")
	rulesDir, _ := filepath.Abs("../rules")
	sock := filepath.Join(dir, "m.sock")
	cfg := filepath.Join(dir, "milterd.yaml")
	const bobLimit = 25
	os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: unix:%s
socket_mode: "0666"
state_dir: %s
log: {level: warn}
clamd: {addresses: ["unix:%s"]}
rules: {dir: %s, watch: false}
quarantine: {}
limits:
  users:
    alice: unlimited
    bob: {messages_per_hour: %d}
`, sock, dir, cd.Socket, rulesDir, bobLimit)), 0o644)
	var logs harness.LogBuffer
	pid := harness.StartMilterd(t, bin, cfg, "unix:"+sock, &logs).Process.Pid
	sink := harness.StartSink(t)
	pf := harness.StartPostfix(t, harness.MTAConfig{
		Milter: "unix:" + sock, RelayPort: sink.Port,
		Users: map[string]string{harness.User: harness.Pass, "bob": "secret-bob"},
		Main:  map[string]string{"default_process_limit": "300", "smtpd_client_connection_count_limit": "0"},
	})
	phish, _ := os.ReadFile("../testdata/messages/13-phishing-form.eml")
	eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

	var mu sync.Mutex
	counts := map[string]int{}
	var unexpected []string
	deadline := time.Now().Add(*soakFor)
	var wg sync.WaitGroup
	for s := 0; s < *soakSessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, pass := harness.User, harness.Pass
			if s%10 == 9 {
				user, pass = "bob", "secret-bob"
			}
			c := harness.Dial(t, pf.Addr(), user, pass)
			defer c.Quit()
			for i := 0; time.Now().Before(deadline); i++ {
				kind := "clean"
				switch r := rand.IntN(10); {
				case user == "bob":
					kind = "limited"
				case r == 0:
					kind = "infected"
				case r == 1:
					kind = "phish"
				}
				var msg []byte
				switch kind {
				case "infected":
					msg = []byte(harness.Msg("alice@customer.test", "x@remote.test", "v", eicar))
				case "phish":
					msg = phish
				default:
					msg = []byte(harness.Msg(user+"@customer.test", "x@remote.test", fmt.Sprintf("s%d m%d", s, i), strings.Repeat("hello soak ", 200)))
				}
				r := c.SendFrom(user+"@customer.test", []string{"x@remote.test"}, bytes.NewReader(bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))))
				got := harness.Reply(r.Err)
				want := map[string]string{"clean": "250", "phish": "250", "infected": "550 5.7.1 Message contains malware"}[kind]
				outcome := kind
				if kind == "limited" {
					switch {
					case got == "250":
						outcome = "limited-accepted"
					case strings.HasPrefix(got, "451 4.7.1 Sending limit reached"):
						outcome = "limited-tempfailed"
						// A real client backs off; Postfix drops a session
						// after smtpd_hard_error_limit errors.
						time.Sleep(200 * time.Millisecond)
					default:
						want = "250 or the limit"
					}
				}
				mu.Lock()
				if want != "" && !strings.HasPrefix(got, want) {
					unexpected = append(unexpected, kind+": "+got)
				} else {
					counts[outcome]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("sent %v over %d sessions: %v", *soakFor, *soakSessions, counts)
	if len(unexpected) > 0 {
		t.Fatalf("%d unexpected replies, e.g. %v", len(unexpected), unexpected[:min(5, len(unexpected))])
	}
	if counts["limited-accepted"] != bobLimit {
		t.Errorf("bob: %d accepted, want exactly the limit %d", counts["limited-accepted"], bobLimit)
	}
	// Nothing lost: every accepted message is delivered or quarantined.
	delivered := counts["clean"] + counts["limited-accepted"]
	sink.Wait(t, delivered, 60*time.Second)
	if n := len(sink.Messages()); n != delivered {
		t.Errorf("sink got %d messages, %d were accepted for delivery", n, delivered)
	}
	q, err := quarantine.Open(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	held, _ := q.List(context.Background(), quarantine.Filter{})
	if len(held) != counts["phish"] {
		t.Errorf("quarantine holds %d, %d phishing messages were accepted", len(held), counts["phish"])
	}
	if rss := harness.PeakRSS(pid); rss > 150 {
		t.Errorf("milterd peak RSS %.0f MiB", rss)
	} else {
		t.Logf("milterd peak RSS %.0f MiB", rss)
	}
}
