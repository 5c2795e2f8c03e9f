package complaint

import (
	"strings"
	"testing"
	"time"
)

// The original's header names who sent the message; a reference quoted
// in a text part comes second, wherever that part sits in the report.
// Receivers' human-readable first parts may quote the message's body, and
// a spammer (alice) who puts a reference copied from bob's mail into her
// spam's text must not get bob blamed for it.
func TestReviewHeaderRefBeforeTextRef(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	bob := aliceRef
	bob.Account, bob.QueueID = "bob@customer.test", "4ZxQ2bobbbb"
	bobRef, _ := ks.Seal(bob)
	raw := strings.Replace(string(report(t, "arf-full.eml", ref)),
		"This is an email abuse report", "Excerpt of the message:\r\n> X-Outguard-Ref: "+bobRef+"\r\n\r\nThis is an email abuse report", 1)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time }}
	if c := in.Attribute([]byte(raw)); c.Account != aliceRef.Account {
		t.Errorf("blamed %q, want %q (%+v)", c.Account, aliceRef.Account, c)
	}
}
