package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"outguard/internal/harness"
)

// /readyz names the shared quarantine while PostgreSQL is down, and is
// ready again once it is back (the pool reconnects by itself). Then milterd
// is killed (SIGKILL) in the middle of writing a held message to
// the shared quarantine: every chunk of the message is written, its record
// is not yet. The client gets a tempfail (Postfix's milter_default_action),
// and PostgreSQL keeps nothing of it: no entry, no chunk.
func TestSharedQuarantineFaults(t *testing.T) {
	pg := harness.StartPostgres(t)
	dir := harness.Dir(t, "killed")
	rules := filepath.Join(dir, "rules")
	os.Mkdir(rules, 0o755)
	os.WriteFile(filepath.Join(rules, "hold.yar"), []byte(`rule hold_tagged { meta: action = "quarantine" strings: $h = "X-Test-Hold: yes" condition: $h }`), 0o644)
	cfg := filepath.Join(dir, "milterd.yaml")
	sock := filepath.Join(dir, "m.sock")
	log := &harness.LogBuffer{}
	cmd, port := harness.StartMilterdOwning(t, binary, func(port int) string {
		os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s\nsocket_group: \"\"\nstate_dir: %s\npostgres: {dsn: %q}\nquarantine: {store: postgres}\nrules: {dir: %s, watch: false}\nmetrics: {listen: \"127.0.0.1:%d\"}\n", sock, dir, pg.DSN, rules, port)), 0o644)
		return cfg
	}, "unix:"+sock, log)
	os.Chmod(sock, 0o666)
	ready := func() (int, string) { return readyz(t, port) }
	if code, body := ready(); code != 200 || !strings.Contains(body, "quarantine") {
		t.Errorf("PostgreSQL up: %d %q", code, body)
	}
	pg.Stop()
	if code, body := ready(); code != 503 || !strings.Contains(body, "\nquarantine: ") {
		t.Errorf("PostgreSQL down: %d %q", code, body)
	}
	pg.Start()
	if code, _ := ready(); code != 200 {
		t.Errorf("PostgreSQL back: %d", code)
	}
	sink := harness.StartSink(t)
	mta := harness.StartPostfix(t, harness.MTAConfig{Milter: "unix:" + sock, RelayPort: sink.Port, Users: map[string]string{harness.User: harness.Pass}})

	db, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Hold the record back: the entries table locked against inserts.
	lock, err := db.Begin()
	if err == nil {
		_, err = lock.Exec(`LOCK TABLE entries IN EXCLUSIVE MODE`)
	}
	if err != nil {
		t.Fatal(err)
	}
	reply := make(chan string, 1)
	go func() {
		body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 20<<20/66)
		r := harness.Dial(t, mta.Addr(), harness.User, harness.Pass).Send("alice@customer.test", []string{"v@remote.test"},
			harness.Msg("alice@customer.test", "v@remote.test", "killed", body, "X-Test-Hold: yes"))
		reply <- harness.Reply(r.Err)
	}()
	waiting := func() (n int) {
		db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO entries%' AND wait_event_type = 'Lock'`).Scan(&n)
		return n
	}
	for i := 0; waiting() == 0; i++ {
		if i > 1200 {
			t.Fatalf("milterd never reached the record's insert:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	if got := <-reply; !strings.HasPrefix(got, "451 4.") {
		t.Errorf("the client of a killed milterd: %q, want a tempfail", got)
	}
	lock.Rollback()
	var entries, chunks, busy int
	for i := 0; i < 200; i++ { // the server rolls back the dead client's transaction
		db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO entries%' AND state = 'active'`).Scan(&busy)
		if busy == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM entries), (SELECT COUNT(*) FROM chunks)`).Scan(&entries, &chunks); err != nil {
		t.Fatal(err)
	}
	if entries != 0 || chunks != 0 {
		t.Errorf("a killed write left %d entries and %d chunks", entries, chunks)
	}
}

// At start milterd removes the quarantine files a crash left without an
// entry, and says so; before, they stayed on disk for good, unlisted and
// uncounted.
func TestStartSweepsOrphanQuarantineFiles(t *testing.T) {
	qdir := t.TempDir()
	os.MkdirAll(filepath.Join(qdir, "msg"), 0o700)
	old := time.Now().Add(-time.Hour)
	var orphans []string
	for _, name := range []string{"20260101T000000-aaaaaaaa.eml.tmp", "20260101T000000-bbbbbbbb.eml"} {
		p := filepath.Join(qdir, "msg", name)
		os.WriteFile(p, []byte("Subject: held when milterd died\r\n\r\nx\r\n"), 0o600)
		os.Chtimes(p, old, old)
		orphans = append(orphans, p)
	}
	d, _ := hostile(t, "quarantine: {dir: "+qdir+"}\n", "")
	d.waitLog(t, "removed message files no entry holds")
	if !strings.Contains(d.log.String(), "files=2") {
		t.Errorf("the sweep does not say how many:\n%s", tail(d.log.String()))
	}
	for _, p := range orphans {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
}
