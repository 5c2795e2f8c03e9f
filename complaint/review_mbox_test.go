package complaint

import (
	"strings"
	"testing"
	"time"
)

// A report that starts with an mbox "From " line (pipe(8) with flag F,
// procmail, a Maildir filled from an mbox) is read as the message after
// it: attributed to the original's sender, never to the account whose
// reference milterd stamped on the report when a customer relayed it.
func TestReviewMboxFromLine(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	carol := aliceRef
	carol.Account, carol.QueueID = "carol@customer.test", "4ZxQ3carolll"
	carolRef, _ := ks.Seal(carol)
	raw := "From carol@customer.test  Thu Mar  8 17:40:36 2005\r\nX-Outguard-Ref: " + carolRef + "\r\n" + string(report(t, "arf-full.eml", ref))
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time }}
	c := in.Attribute([]byte(raw))
	// carol relayed it: about alice, counted for no one (review_relayed_test.go).
	if c.Account != "" || c.Kind != "arf" || !strings.Contains(c.Problem, "about "+aliceRef.Account) {
		t.Errorf("blamed %q (%s), want a report about %q, arf (%+v)", c.Account, c.Kind, aliceRef.Account, c)
	}
}

// A report whose own header cannot be parsed is searched after that
// header only: the reference milterd stamped on it when a customer
// relayed it is the relaying account's.
func TestReviewUnparseableOwnHeader(t *testing.T) {
	ks := testKeys(t, 1)
	carol := aliceRef
	carol.Account = "carol@customer.test"
	carolRef, _ := ks.Seal(carol)
	raw := "X-Outguard-Ref: " + carolRef + "\r\nthis line is no header field\r\nSubject: spam\r\n\r\nI got spam.\r\n"
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time }}
	if c := in.Attribute([]byte(raw)); c.Account != "" {
		t.Errorf("blamed the relaying account: %+v", c)
	}
}
