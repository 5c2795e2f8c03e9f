package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/quarantine"
)

// A subcommand that takes no arguments refuses one (exit 2, saying so)
// instead of ignoring it: `quarantine list alice` listed every account's
// entries, `quarantine purge alice` purged every account's old entries,
// as if the name had been --user alice; nothing is read or changed.
func TestSubcommandsRefuseArgumentsTheyDoNotTake(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "milterd.yaml")
	key := filepath.Join(dir, "ref.key")
	os.WriteFile(key, []byte(strings.Repeat("k", 32)), 0o600)
	os.WriteFile(cfg, []byte("state_dir: "+dir+"\nlimits: {}\ncampaign: {shared_domains: [isp.test]}\ncomplaints: {keys: ["+key+"]}\nquarantine: {retention: 1h}\n"), 0o644)
	q, err := quarantine.Open(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Put(context.Background(), quarantine.Record{Time: time.Now().Add(-2 * time.Hour), User: "bob", From: "bob@x.test", Rcpts: []string{"r@x.test"}}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	q.Close()
	for _, args := range [][]string{
		{"quarantine", "list", "alice"},
		{"quarantine", "list", "--json", "alice"},
		{"quarantine", "purge", "alice"},
		{"quarantine", "digest", "alice"},
		{"quarantine", "migrate", "alice"},
		{"accounts", "list", "alice"},
		{"accounts", "contain", "now"},
		{"campaigns", "list", "alice"},
		{"complaints", "list", "alice"},
		{"complaints", "ingest", "report.eml"},
	} {
		out, code := ctl(t, cfg, args...)
		want := 2
		if isIngest(args) {
			want = exTempfail // Postfix's pipe(8) keeps the report
		}
		if code != want || !strings.Contains(out, strings.Join(args[:2], " ")+" takes no arguments") {
			t.Errorf("milterctl %s: exit %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, code := ctl(t, cfg, "quarantine", "list", "--json"); code != 0 || !strings.Contains(out, "bob@x.test") {
		t.Errorf("bob's entry after the refused purge (exit %d):\n%s", code, out)
	}
}

// An unknown subcommand is a usage error (exit 2) whatever the config
// lacks: with no quarantine or limits section, `quarantine lsit` said
// the section was missing (exit 1), as if the command had been right.
func TestUnknownSubcommandBeforeMissingSection(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "milterd.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+dir+"\n"), 0o644)
	for _, group := range []string{"quarantine", "accounts", "campaigns", "complaints"} {
		if out, code := ctl(t, cfg, group, "lsit"); code != 2 || !strings.Contains(out, "unknown command "+group+" lsit") {
			t.Errorf("milterctl %s lsit: exit %d:\n%s", group, code, out)
		}
		if out, code := ctl(t, cfg, group, "list"); code != 1 || !strings.Contains(out, "section") {
			t.Errorf("milterctl %s list without its section: exit %d:\n%s", group, code, out)
		}
	}
}
