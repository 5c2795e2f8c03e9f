package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// TestLimitAlertOnceAcrossTwoMilterds: two smarthosts (two Postfix, two
// milterd binaries) share a store (Redis, PostgreSQL, or one SQLite file
// both processes open); alice reaches messages_per_hour on both, several
// times each: the webhook receiver gets the "limit" alert once. Before,
// each milterd remembered the window in its own memory and sent its own.
func TestLimitAlertOnceAcrossTwoMilterds(t *testing.T) {
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterd")
	for _, kind := range []string{"sqlite", "redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			got := map[string]int{} // event -> posts
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				var al limits.Alert
				json.Unmarshal(body, &al)
				mu.Lock()
				got[al.Event+" "+al.Account]++
				mu.Unlock()
			})}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			store := storeConfig(t, kind, fmt.Sprintf("  default: {messages_per_hour: 1}\n  on_suspend_queued: keep\n  alert: {webhook: \"http://%s/hook\", timeout: 2s}\n", ln.Addr()))
			state := harness.Dir(t, "state") // one SQLite file for both, with sqlite
			var hosts []string
			var logs harness.LogBuffer
			for i := range 2 {
				h := startMilterdHost(t, bin, harness.Dir(t, "milterd"), state, fmt.Sprintf("%s  host: mx%d\n", store, i+1),
					harness.MTAConfig{Users: map[string]string{"alice": "secret-alice"}}, &logs)
				hosts = append(hosts, h.pf.Addr())
			}
			sent, refused := 0, 0
			for i := range 8 {
				c := harness.Dial(t, hosts[i%2], "alice", "secret-alice")
				r := c.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", fmt.Sprint("m", i), "hi"))
				c.Quit()
				if r.Err == nil {
					sent++
				} else if strings.HasPrefix(harness.Reply(r.Err), "4") {
					refused++
				}
			}
			if sent != 1 || refused != 7 {
				t.Fatalf("sent %d, refused 4xx %d; want 1 and 7\n%s", sent, refused, logs.String())
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				n := got["limit alice"]
				mu.Unlock()
				if n > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(5 * time.Second) // the other courier's flush would post a second by now
			mu.Lock()
			defer mu.Unlock()
			if got["limit alice"] != 1 || strings.Count(logs.String(), "sending limit reached") < 2 {
				t.Errorf("webhook posts %v; want one limit alert for the fleet (both hosts refused)\n%s", got, logs.String())
			}
		})
	}
}
