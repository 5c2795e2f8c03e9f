package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// The complaints page, on a limits store: newest first, attributed ones
// linked to their account, unattributable ones with why and the report as
// inert text (a hostile report renders nothing); filtered by account and
// unattributable; at most ListMax shown, the number matched said; a
// user may look, nobody without one.
func TestComplaintsPage(t *testing.T) {
	s, _ := newTest(t)
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s.o.Accounts, s.o.Login = st, strings.ToLower
	s.o.Policy, _ = limits.NewPolicy(limits.Limits{ComplaintsPerDay: 5}, nil)
	s.routes()
	ctx := context.Background()
	now := time.Now()
	add := func(c limits.Complaint) {
		if _, _, err := st.AddComplaint(ctx, c, now); err != nil {
			t.Fatal(err)
		}
	}
	for i := range ListMax + 3 {
		add(limits.Complaint{ID: fmt.Sprint("msg:h:Q", i), Account: "alice", Time: now.Add(time.Duration(i-ListMax-3) * time.Second), Kind: "arf", QueueID: fmt.Sprint("Q", i), Subject: "<script>alert(1)</script>\u202e"})
	}
	add(limits.Complaint{ID: "raw:1", Time: now, Kind: "forwarded", Problem: "no reference found", Report: "Subject: <img src=x onerror=alert(1)>\x1b[31m"})

	var d complaintsData
	if err := json.Unmarshal(get(t, s, "/api/complaints").Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Matched != ListMax+4 || len(d.Complaints) != ListMax || d.Complaints[0].ID != "raw:1" || d.Complaints[1].QueueID != fmt.Sprint("Q", ListMax+2) {
		t.Fatalf("api: matched %d, %d shown, first %+v", d.Matched, len(d.Complaints), d.Complaints[0])
	}
	d = complaintsData{}
	json.Unmarshal(get(t, s, "/api/complaints?unattributable=1").Body.Bytes(), &d)
	if d.Matched != 1 || d.Complaints[0].Problem != "no reference found" {
		t.Fatalf("unattributable: %+v", d)
	}
	d = complaintsData{}
	json.Unmarshal(get(t, s, "/api/complaints?account=ALICE&since=1h").Body.Bytes(), &d)
	if d.Matched != ListMax+3 {
		t.Fatalf("alice's: %d", d.Matched)
	}
	page := get(t, s, "/complaints").Body.String()
	for _, want := range []string{`href="/accounts/alice"`, "no reference found", "&lt;img src=x", `\x1b[31m`, "&lt;script&gt;", `\u202e`, fmt.Sprintf("%d complaint(s), the newest %d shown", ListMax+4, ListMax)} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "<img") {
		t.Error("a report rendered")
	}
	if acct := get(t, s, "/accounts/alice").Body.String(); !strings.Contains(acct, fmt.Sprintf("Complaints: %d/5 in the last day", ListMax+3)) {
		t.Errorf("account page:\n%s", acct)
	}
	if c := get(t, s, "/api/complaints?since=bogus").Code; c != 400 {
		t.Errorf("bad since: %d", c)
	}
	r := httptest.NewRequest("GET", "/api/complaints", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 401 {
		t.Errorf("without a user: %d", w.Code)
	}
}
