package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/quarantine"
)

// fakeMTA is a release address that misbehaves after the final dot as no
// real MTA does on demand: atDot runs with the connection and the message
// received, and returns whether to keep talking. It returns the address
// and a channel of the messages it received.
func fakeMTA(t *testing.T, atDot func(c net.Conn) bool) (string, <-chan string) {
	got := make(chan string, 10)
	l := harness.Serve(t, "127.0.0.1:0", func(c net.Conn) { // port 0: no other process can take it first
		r := bufio.NewReader(c)
		fmt.Fprint(c, "220 mta.test ESMTP\r\n")
		var data strings.Builder
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case inData && line == ".\r\n":
				inData = false
				got <- data.String()
				if !atDot(c) {
					return
				}
			case inData:
				data.WriteString(line)
			case strings.HasPrefix(line, "DATA"):
				inData = true
				fmt.Fprint(c, "354 go ahead\r\n")
			case strings.HasPrefix(line, "QUIT"):
				fmt.Fprint(c, "221 bye\r\n")
				return
			default:
				fmt.Fprint(c, "250 ok\r\n")
			}
		}
	})
	return l.Addr().String(), got
}

// A release whose final dot was sent and whose reply never came (the
// connection dropped, or the 250 came after the reply timeout) may have
// been queued by the MTA: the entry stays releasing with its outcome
// unknown, milterctl exits 4 and says what to look for in the MTA's log,
// and no second release can deliver it again until a reviewer resolves it.
// Before: the entry went back to held ("refused by the MTA: EOF") and the
// next release delivered a second copy.
func TestReleaseOutcomeUnknown(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	recs := e.hold(t, "dropped", "late")
	for _, c := range []struct {
		name  string
		rec   quarantine.Record
		atDot func(net.Conn) bool
		why   string
	}{
		{"dropped after the dot", recs[1], func(net.Conn) bool { return false }, "EOF"},
		{"250 after the reply timeout", recs[0], func(c net.Conn) bool {
			time.Sleep(3 * time.Second) // release_timeout is 1s
			fmt.Fprint(c, "250 2.0.0 queued as LATE\r\n")
			return true
		}, "timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, got := fakeMTA(t, c.atDot)
			cfg := filepath.Join(t.TempDir(), "milterd.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir: /tmp\nquarantine:\n  dir: %s\n  release_address: %s\n  release_timeout: 1s\n", e.dir, addr)), 0o644)
			raw, _, err := e.store.Message(context.Background(), c.rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Postfix gave the held message a Message-ID: the release keeps it.
			mid := regexp.MustCompile(`(?mi)^Message-ID: (<[^>]+>)\r$`).FindStringSubmatch(string(raw))
			if mid == nil {
				t.Fatalf("the held message has no Message-ID:\n%s", raw)
			}
			start := time.Now()
			out, code := ctl(t, cfg, "quarantine", "release", c.rec.ID)
			if code != 4 || !strings.Contains(out, "outcome unknown") || !strings.Contains(out, c.why) ||
				!strings.Contains(out, "check the MTA's log for Message-ID "+mid[1]+" (header X-Outguard-Release: "+c.rec.ID+")") {
				t.Fatalf("release (%d): %s", code, out)
			}
			if took := time.Since(start); took > 2500*time.Millisecond {
				t.Errorf("the release waited %v for a reply, past release_timeout 1s", took)
			}
			msg := <-got
			if !strings.HasPrefix(msg, "X-Outguard-Release: "+c.rec.ID+"\r\n") || strings.Count(strings.ToLower(msg), "message-id:") != 1 {
				t.Errorf("the release carries no trace header:\n%s", msg)
			}
			rec, err := e.store.Get(context.Background(), c.rec.ID)
			if err != nil || rec.State != quarantine.Releasing || rec.Release == nil || rec.Release.Outcome == "" {
				t.Fatalf("after an unknown outcome: %+v %v", rec, err)
			}
			if show, _ := ctl(t, cfg, "quarantine", "show", c.rec.ID); !strings.Contains(show, "outcome unknown") || !strings.Contains(show, "check the MTA's log for Message-ID") {
				t.Errorf("show:\n%s", show)
			}
			// No second delivery: the entry is not held.
			if out, code := ctl(t, cfg, "quarantine", "release", c.rec.ID); code != 1 || !strings.Contains(out, "unknown outcome") {
				t.Errorf("second release (%d): %s", code, out)
			}
			select {
			case m := <-got:
				t.Fatalf("delivered a second time:\n%s", m)
			case <-time.After(500 * time.Millisecond):
			}
			// The release is over (its lease ended with it): the reviewer
			// found it in the MTA's log and resolves it.
			if out, code := ctl(t, cfg, "quarantine", "resolve", c.rec.ID, "released"); code != 0 {
				t.Fatalf("resolve (%d): %s", code, out)
			}
			if rec, _ := e.store.Get(context.Background(), c.rec.ID); rec.State != quarantine.Released {
				t.Errorf("after resolve: %s", rec.State)
			}
		})
	}
}

// resolve refuses an entry whose release is within its lease (it may be
// running: resolving it held would let a second release deliver it
// again), unless --force names the lease's holder. Before: resolve ignored
// the lease.
func TestResolveRespectsLease(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	recs := e.hold(t, "running")
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	live := fmt.Sprintf(`{"operator":"bob","host":"mx2","started":%q,"lease":%q}`, now.Format(time.RFC3339), now.Add(5*time.Minute).Format(time.RFC3339))
	if _, err := db.Exec(`UPDATE entries SET state = 'releasing', claim = ? WHERE id = ?`, live, recs[0].ID); err != nil {
		t.Fatal(err)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "resolve", recs[0].ID, "held"); code != 1 || !strings.Contains(out, "being released by bob on mx2") || !strings.Contains(out, "--force bob") {
		t.Errorf("resolve of a live release (%d): %s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "resolve", recs[0].ID, "held", "--force", "alice"); code != 1 || !strings.Contains(out, "being released") {
		t.Errorf("resolve --force naming someone else (%d): %s", code, out)
	}
	if rec, _ := e.store.Get(context.Background(), recs[0].ID); rec.State != quarantine.Releasing {
		t.Fatalf("a refused resolve changed the entry: %s", rec.State)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "resolve", recs[0].ID, "held", "--force", "bob"); code != 0 {
		t.Fatalf("resolve --force bob (%d): %s", code, out)
	}
	if rec, _ := e.store.Get(context.Background(), recs[0].ID); rec.State != quarantine.Held {
		t.Errorf("after a forced resolve: %s", rec.State)
	}
	if audit, _ := ctl(t, e.cfg, "quarantine", "audit", recs[0].ID, "--json"); strings.Count(audit, `"action":"resolve"`) != 3 {
		t.Errorf("audit trail:\n%s", audit)
	}
}
