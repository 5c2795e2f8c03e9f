package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"outguard/quarantine"
)

// auditing is Actions that record themselves in the quarantine's audit
// trail with the request's context, as milterctl's actions do (record).
type auditing struct{ q *quarantine.Store }

func (a auditing) do(ctx context.Context, action, id, op string) (string, error) {
	return action + "d", a.q.Audit(ctx, op, action, id, action+"d")
}
func (a auditing) Release(ctx context.Context, id, op string) (string, error) {
	return a.do(ctx, "release", id, op)
}
func (a auditing) Delete(ctx context.Context, id, op string) (string, error) {
	return a.do(ctx, "delete", id, op)
}
func (a auditing) Resolve(ctx context.Context, id, _, op string) (string, error) {
	return a.do(ctx, "resolve", id, op)
}
func (a auditing) Suspend(ctx context.Context, k, _, op string) (string, error) {
	return a.do(ctx, "suspend", k, op)
}
func (a auditing) Unsuspend(ctx context.Context, k, _, op string) (string, error) {
	return a.do(ctx, "unsuspend", k, op)
}
func (a auditing) Reset(ctx context.Context, k, op string) (string, error) {
	return a.do(ctx, "reset", k, op)
}
func (a auditing) SpareCampaign(ctx context.Context, ids []string, _, op string) ([]string, error) {
	out, err := a.do(ctx, "spare", ids[0], op)
	return []string{out}, err
}
func (a auditing) UnspareCampaign(ctx context.Context, id, op string) (string, error) {
	return a.do(ctx, "unspare", id, op)
}

// A reviewer who clicks Release and closes the tab (or a script whose
// HTTP client times out) cancels the request's context. The action it
// started must still finish and be audited with the user: a release cut
// off by the client's disconnect would be half done (the MTA may have
// the message) and missing from the audit trail.
func TestReviewActionOutlivesClient(t *testing.T) {
	s, q := newTest(t) // a reviewer, rev
	s.o.Actions = auditing{q}
	gone, cancel := context.WithCancel(context.Background())
	cancel() // the client went away
	r := httptest.NewRequestWithContext(gone, "POST", "/api/quarantine/e1/delete", strings.NewReader(""))
	r.SetBasicAuth("rev", pass)
	serve(s, r)
	trail, err := q.AuditLog(context.Background(), time.Now().Add(-time.Hour), "e1")
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 1 || trail[0].Operator != "web:rev" {
		t.Errorf("the action of a client that went away: audit trail %+v, want one line by web:rev", trail)
	}
}
