package complaint

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/policy"
)

// The parser takes a CFBL-Feedback-ID in the original for a reference
// whether or not cfbl_address is set. Without it, the stamper leaves a
// customer's own RFC 9477 fields alone: harmless while our reference sits
// beside it (header-named references come first), but a message we do
// not stamp (a login too long to seal, no account) went out carrying
// whatever CFBL-Feedback-ID the customer wrote: mallory copies one of
// alice's references (from mail alice sent her) into it, and the
// feedback loop's genuine report about mallory's spam counted for alice.
// A message that gets no reference of ours must carry none of anyone's.
func TestReviewUnstampedKeepsNoReference(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	raw := strings.Replace(string(report(t, "arf-full.eml", "x")), "X-Outguard-Ref: x\r\n", "CFBL-Feedback-ID: "+ref+"\r\n", 1)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time }}
	if c := in.Attribute([]byte(raw)); c.Account != aliceRef.Account {
		t.Fatalf("a customer's CFBL-Feedback-ID quoting alice's reference is read as one: %+v", c)
	}
	plain := NewStamper(Options{Header: "X-Outguard-Ref", Keys: ks, Host: "h1", Account: func(t *policy.Transaction) (string, bool) { return t.User, t.User != "" }})
	for name, tx := range map[string]*policy.Transaction{
		"too long a login": {User: strings.Repeat("m", maxField+1), QueueID: "Q1"},
		"no account":       {QueueID: "Q2"},
	} {
		plain.Commit(context.Background(), tx)
		if got := tx.Removals(); len(tx.Additions()) != 0 || !slices.Contains(got, CFBLFeedbackID) {
			t.Errorf("%s: removals %v, additions %+v", name, got, tx.Additions())
		}
	}
	if remove, _, _ := plain.Fields("h1", "Q3", ""); !slices.Contains(remove, CFBLFeedbackID) {
		t.Errorf("released without an account: removals %v", remove)
	}
}
