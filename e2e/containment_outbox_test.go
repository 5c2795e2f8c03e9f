package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"outguard/internal/alert"
	"outguard/internal/harness"
	"outguard/limits"
)

// TestAlertsSurviveAMilterdRestart, with the milterd binary behind a real
// Postfix: three accounts suspended (refused recipients) while the
// webhook receiver is down; milterd is stopped (SIGTERM) with the three
// alerts undelivered, the receiver comes back, milterd starts again, and
// the receiver gets each of the three once, signed. Before the outbox,
// the alerts were lost with the first failed post.
func TestAlertsSurviveAMilterdRestart(t *testing.T) {
	dir := harness.Dir(t, "milterd") // Postfix reaches the socket in it
	key := filepath.Join(dir, "webhook.key")
	os.WriteFile(key, []byte("s3cret\n"), 0o600)
	hook := fmt.Sprintf("127.0.0.1:%d", harness.DownPort(t)) // down; served later
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterd")
	var logs harness.LogBuffer
	access, refused := harness.RejectAll(3)
	users := map[string]string{"alice": "secret-alice", "bob": "secret-bob", "carol": "secret-carol"}
	h := startMilterdHost(t, bin, dir, dir, fmt.Sprintf(`limits:
  default: {undeliverable_per_hour: 1}
  on_suspend_queued: keep
  alert: {webhook: "http://%s/hook", webhook_secret_file: %s, timeout: 2s}
`, hook, key), harness.MTAConfig{Users: users, RcptAccess: access}, &logs)
	md, pf := h.md, h.pf
	i := 0
	for user, pass := range users {
		c := harness.Dial(t, pf.Addr(), user, pass)
		c.Send(user+"@customer.test", []string{refused[i], "ok@remote.test"}, harness.Msg(user+"@customer.test", "ok@remote.test", "hi "+user, "hello"))
		c.Quit()
		i++
	}
	st, err := limits.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, "three alerts tried and kept", func() bool {
		items, _ := st.OutboxItems(context.Background())
		n := 0
		for _, it := range items {
			if it.Attempts > 0 {
				n++
			}
		}
		return n == 3
	})
	md.Process.Signal(syscall.SIGTERM)
	waitFor(t, "milterd stopped", func() bool { return syscall.Kill(md.Process.Pid, 0) != nil })

	var mu sync.Mutex
	got := map[string]int{}
	accounts := map[string]bool{}
	var bad []string
	hl, err := net.Listen("tcp", hook)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !signed([]byte("s3cret"), body, r.Header.Get(alert.SignatureHeader)) {
			bad = append(bad, string(body))
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		var al limits.Alert
		json.Unmarshal(body, &al)
		got[al.ID]++
		accounts[al.Account] = true
	})}
	go srv.Serve(hl)
	defer srv.Close()
	h.start()
	// The first retry is due 30 s after the first attempt.
	deadline := time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a repeat would come within a flush
	mu.Lock()
	defer mu.Unlock()
	for id, n := range got {
		if n != 1 {
			t.Errorf("alert %s posted %d times", id, n)
		}
	}
	if len(got) != 3 || len(accounts) != 3 || len(bad) > 0 {
		t.Errorf("got %v for %v; badly signed %q\n%s", got, accounts, bad, logs.String())
	}
}

// signed checks a post's X-Outguard-Signature as a receiver written from
// docs/suspension.md does: HMAC-SHA256 of "t." and the body.
func signed(key, body []byte, header string) bool {
	ts, sig, _ := strings.Cut(header, ",v1=")
	ts, ok := strings.CutPrefix(ts, "t=")
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "." + string(body)))
	want, _ := hex.DecodeString(sig)
	return ok && hmac.Equal(m.Sum(nil), want)
}
