package complaint_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	. "outguard/complaint"
	"outguard/limits"
)

// A flood of junk at the abuse address: MaxUnattributable reports of a
// day are recorded, the next is not (Dropped, no error: exit 0, nothing
// for Postfix to deliver again), and the store holds no more; a
// feedback loop's report is still counted. Before: every one was
// recorded, the store grew with whatever was mailed.
func TestIngestUnattributableFlood(t *testing.T) {
	e, st := sqliteEngine(t, 0)
	ks := TestKeys(t, 1)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", FBL: FeedbackLoops{Domains: []string{"fbl.test"}, AuthServID: "mx.isp.test"}, Record: e}
	ctx := context.Background()
	junk := func(i int) *bytes.Reader {
		return bytes.NewReader(fmt.Appendf(nil, "From: x@junk.test\r\nSubject: junk %d\r\n\r\nno reference here %d\r\n", i, i))
	}
	for i := range limits.MaxUnattributable {
		if res, err := in.Ingest(ctx, junk(i)); err != nil || !res.New || res.Dropped {
			t.Fatalf("report %d: %+v %v", i, res, err)
		}
	}
	res, err := in.Ingest(ctx, junk(-1))
	if err != nil || !res.Dropped || res.New {
		t.Fatalf("over the bound: %+v %v", res, err)
	}
	if n, _ := st.Unattributable(ctx, time.Now().Add(-time.Hour)); n != limits.MaxUnattributable {
		t.Errorf("stored %d", n)
	}
	r := AliceRef
	r.Time = time.Now()
	ref, _ := ks.Seal(r)
	raw := append([]byte("Authentication-Results: mx.isp.test; dkim=pass header.d=fbl.test\r\n"), ReportOf(t, "arf-full.eml", ref)...)
	if res, err := in.Ingest(ctx, bytes.NewReader(raw)); err != nil || res.Complaint.Account != AliceRef.Account || !res.New {
		t.Errorf("a feedback loop's report at the bound: %+v %v", res.Complaint.Problem, err)
	}
}
