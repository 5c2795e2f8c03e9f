package complaint_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	. "outguard/complaint"
	"outguard/limits"
)

// A report counted for no one must not stand in for the genuine one about
// the same message that comes later: our customer carol, who received
// alice's mail, sends a report about it through our smarthost (its own
// header carries carol's reference: not counted). The feedback loop's
// genuine report about that message, later, counts for alice. Before: the
// first was recorded under the message's identity (msg:HOST:QUEUEID), and
// the genuine one was a duplicate of it, counted for no one.
func TestReviewOwnCustomerReportNoStandIn(t *testing.T) {
	in, st, ks := fblIngester(t)
	alice, ref := freshRef(ks, AliceRef.Account, AliceRef.QueueID)
	_, carolRef := freshRef(ks, "carol@customer.test", "4ZxQ3carol")
	relayed := append([]byte("X-Outguard-Ref: "+carolRef+"\r\n"), ReportOf(t, "arf-full.eml", ref)...)
	res, err := in.Ingest(context.Background(), bytes.NewReader(relayed))
	if err != nil || res.Complaint.Account != "" || !res.New {
		t.Fatalf("carol's report: %+v %v", res, err)
	}
	res, err = in.Ingest(context.Background(), bytes.NewReader(fblKey.Sign(t, ReportOf(t, "arf-full.eml", ref), "")))
	if err != nil || !res.New || res.Complaint.Account != alice.Account {
		t.Fatalf("the genuine report after carol's: %+v %v", res, err)
	}
	if cs, _ := st.Complaints(context.Background(), alice.Account, time.Now().Add(-time.Hour)); len(cs) != 1 {
		t.Errorf("alice's complaints: %d, want 1", len(cs))
	}
}

// fblIngester is an ingester trusting fbl.test (a real unbound serving
// its key) recording into a SQLite store without a complaints limit.
func fblIngester(t *testing.T) (*Ingester, limits.Store, Keys) {
	loops, _ := feedbackLoops(t)
	ks := TestKeys(t, 1)
	e, st := sqliteEngine(t, 0)
	return &Ingester{Keys: ks, Header: "X-Outguard-Ref", FBL: loops, Record: e}, st, ks
}

// freshRef is a reference sealed now for account's message queueID.
func freshRef(ks Keys, account, queueID string) (Ref, string) {
	r := AliceRef
	r.Account, r.QueueID, r.Time = account, queueID, time.Now()
	ref, _ := ks.Seal(r)
	return r, ref
}
