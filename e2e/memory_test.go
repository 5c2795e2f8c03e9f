package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
)

// The same bytes in the header block or in the body cost milterd the same
// memory: header fields count in spool.memory_limit and go to the spool
// past it, as the body does. Six concurrent 24 MB messages through a real
// Postfix, one milterd per shape (default config: memory_limit 1MiB); their
// peak RSS must be within 1.2× of each other. Before, every header value
// was also kept in the transaction: 402 MiB against 36 MiB for six 40 MB
// messages.
func TestHeaderHeavyAndBodyHeavyMemory(t *testing.T) {
	const (
		sessions = 6
		size     = 24 << 20
	)
	dir := harness.Dir(t, "memory")
	bin := harness.Build(t, dir, "milterd")
	line := strings.Repeat("x", 998-len("X-Pad-000000: ")) // RFC 5322 2.1.1: 998 octets a line
	var headers, body bytes.Buffer
	for i := 0; headers.Len() < size; i++ {
		fmt.Fprintf(&headers, "X-Pad-%06d: %s\r\n", i, line)
	}
	for body.Len() < size {
		body.WriteString(line + "\r\n")
	}
	shapes := map[string][]byte{
		"header-heavy": []byte("From: <alice@customer.test>\r\nTo: <x@remote.test>\r\nSubject: headers\r\n" + headers.String() + "\r\nsmall body\r\n"),
		"body-heavy":   []byte("From: <alice@customer.test>\r\nTo: <x@remote.test>\r\nSubject: body\r\n\r\n" + body.String()),
	}
	rss := map[string]float64{}
	for _, name := range []string{"body-heavy", "header-heavy"} {
		sub := filepath.Join(dir, name)
		os.Mkdir(sub, 0o755)
		sock := filepath.Join(sub, "m.sock")
		cfg := filepath.Join(sub, "milterd.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s\nsocket_mode: \"0666\"\nsocket_group: \"\"\nstate_dir: %s\nlog: {level: warn}\n", sock, sub)), 0o644)
		var logs harness.LogBuffer
		cmd := harness.StartMilterd(t, bin, cfg, "unix:"+sock, &logs)
		sink := harness.StartSink(t)
		pf := harness.StartPostfix(t, harness.MTAConfig{Milter: "unix:" + sock, RelayPort: sink.Port, Users: map[string]string{harness.User: harness.Pass}})
		var wg sync.WaitGroup
		errs := make(chan string, sessions)
		for range sessions {
			wg.Go(func() {
				c := harness.Dial(t, pf.Addr(), harness.User, harness.Pass)
				defer c.Quit()
				if r := c.SendFrom("alice@customer.test", []string{"x@remote.test"}, bytes.NewReader(shapes[name])); r.Err != nil {
					errs <- harness.Reply(r.Err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("%s: a message was refused: %s\n%s", name, e, logs.String())
		}
		// a bound on liveness, not speed: 144 MB through Postfix's queue
		// take under a minute alone and several on a loaded 2-core CI
		msgs := sink.Wait(t, sessions, 6*time.Minute)
		if !bytes.Contains(msgs[0].Data, []byte("X-Outguard: clean")) {
			t.Errorf("%s: delivered without the stamp", name)
		}
		rss[name] = harness.PeakRSS(cmd.Process.Pid)
		t.Logf("%s: milterd peak RSS %.1f MiB", name, rss[name])
	}
	h, b := rss["header-heavy"], rss["body-heavy"]
	if max(h, b) > 1.2*min(h, b) {
		t.Errorf("peak RSS header-heavy %.1f MiB, body-heavy %.1f MiB: not within 1.2× of each other", h, b)
	}
}
