package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// campaignsConfig is a config with limits and campaign sections and its
// SQLite store, open (the caller closes it before running milterctl).
func campaignsConfig(t *testing.T) (string, *limits.SQLStore) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "milterd.yaml")
	if err := os.WriteFile(cfg, []byte("state_dir: "+dir+"\nlimits: {}\ncampaign: {shared_domains: [isp.test]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := limits.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, st
}

// TestCampaignsListLimit: campaigns list prints the newest --limit
// campaigns (default 100) and refuses a limit under 1.
func TestCampaignsListLimit(t *testing.T) {
	t.Parallel()
	cfg, st := campaignsConfig(t)
	now := time.Now().Add(-time.Hour)
	var ids []string
	for c := range 3 {
		var keys []string
		for b := range 5 {
			keys = append(keys, fmt.Sprintf("t1c%d-%02d", c, b))
		}
		var res limits.CampaignResult
		var err error
		for i := range 5 {
			if res, err = st.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("c", i), Subject: fmt.Sprint("s", c),
				Time: now.Add(time.Duration(c) * time.Minute), Bands: 5}, 15*time.Minute, 5); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, res.ID)
	}
	st.Close()
	out, code := ctl(t, cfg, "campaigns", "list", "--limit", "2")
	if code != 0 || !strings.Contains(out, ids[2]) || !strings.Contains(out, ids[1]) || strings.Contains(out, ids[0]) || strings.Index(out, ids[2]) > strings.Index(out, ids[1]) {
		t.Fatalf("list --limit 2 (%d):\n%s", code, out)
	}
	if out, code = ctl(t, cfg, "campaigns", "list"); code != 0 || !strings.Contains(out, ids[0]) {
		t.Fatalf("list (%d):\n%s", code, out)
	}
	if _, code = ctl(t, cfg, "campaigns", "list", "--limit", "0"); code != 2 {
		t.Fatalf("--limit 0: exit %d", code)
	}
}
