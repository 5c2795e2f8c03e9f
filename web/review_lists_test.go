package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"outguard/limits"
)

// many is a limits store with n accounts (an ISP's customers), each
// with no usage yet.
type many struct {
	limits.Store
	n int
}

func (m many) Accounts(context.Context) ([]string, error) {
	out := make([]string, m.n)
	for i := range out {
		out[i] = fmt.Sprintf("customer%06d", i)
	}
	return out, nil
}

// The accounts list is bounded as the quarantine's is: an ISP's store
// holds an account per customer, and a page or a JSON answer with every
// one of them is megabytes a browser or a script has to take. It shows
// ListMax and says how many there are.
func TestReviewAccountsListBound(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{Accounts: many{testLimits(t, dir), ListMax + 1}, Policy: &limits.Policy{}, UsersFile: testUser(t, dir, "viewer", Viewer, pass)})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		r := httptest.NewRequest("GET", path, nil)
		r.SetBasicAuth("viewer", pass)
		w := serve(s, r)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", path, w.Code)
		}
		return w.Body.String()
	}
	var d struct {
		Accounts  []limits.AccountView `json:"accounts"`
		Total     int                  `json:"total"`
		Truncated bool                 `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(get("/api/accounts")), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Accounts) != ListMax || d.Total != ListMax+1 || !d.Truncated {
		t.Errorf("/api/accounts: %d accounts, total %d, truncated %v; want %d of %d", len(d.Accounts), d.Total, d.Truncated, ListMax, ListMax+1)
	}
	page := get("/accounts")
	if n := strings.Count(page, `<a href="/accounts/customer`); n != ListMax || !strings.Contains(page, fmt.Sprintf("%d accounts, the first %d shown", ListMax+1, ListMax)) {
		t.Errorf("/accounts: %d rows, and the page does not say the list is cut", n)
	}
}
