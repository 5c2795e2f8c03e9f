package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// TestCampaignsCommands: a campaign five accounts sent, one with a
// hostile subject: campaigns list and show name it with its accounts,
// first and last seen and the subject escaped; accounts show lists it
// under the account; --json is exact.
func TestCampaignsCommands(t *testing.T) {
	t.Parallel()
	cfg, st := campaignsConfig(t)
	now := time.Now()
	var keys []string
	for b := range 20 {
		keys = append(keys, fmt.Sprintf("t1phish%02d", b))
	}
	subject := "Verify \x1b[31mnow"
	var id string
	for i := range 6 {
		res, err := st.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("c", i), Subject: subject, Time: now.Add(time.Duration(i) * time.Second), Bands: 5}, 15*time.Minute, 5)
		if err != nil {
			t.Fatal(err)
		}
		id = res.ID
	}
	st.Close()
	out, code := ctl(t, cfg, "campaigns", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, `Verify \x1b[31mnow`) || !strings.Contains(out, "  6       1    ") {
		t.Fatalf("list (%d):\n%s", code, out)
	}
	out, code = ctl(t, cfg, "campaigns", "show", id)
	for _, want := range []string{"Campaign:    " + id, "Copies:      6 (1 held)", "Accounts:    6", "c0\n", "c5\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show (%d) lacks %q:\n%s", code, want, out)
		}
	}
	out, _ = ctl(t, cfg, "campaigns", "show", id, "--json")
	var c limits.Campaign
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Subject != subject || len(c.Accounts) != 6 {
		t.Fatalf("show --json %v: %s", err, out)
	}
	if out, code = ctl(t, cfg, "accounts", "show", "c3"); !strings.Contains(out, "Campaigns across accounts it sent (milterctl campaigns show): 1\n  "+id) {
		t.Errorf("accounts show (%d):\n%s", code, out)
	}
	if _, code = ctl(t, cfg, "campaigns", "show", "nope"); code != 1 {
		t.Errorf("an unknown campaign: exit %d", code)
	}
}
