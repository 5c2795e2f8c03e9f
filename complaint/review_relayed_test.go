package complaint

import (
	"strings"
	"testing"
	"time"
)

// A report that came in through our own smarthost (its own header holds
// a reference that verifies) was sent by one of our customers: a
// customer trying to get another customer suspended writes reports about
// the mail they received from them. It is kept and listed for the abuse
// desk, naming both, and counted for no one.
func TestReviewReportFromOwnCustomerNotCounted(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	carol := aliceRef
	carol.Account, carol.QueueID = "carol@customer.test", "4ZxQ3carolll"
	carolRef, _ := ks.Seal(carol)
	raw := "X-Outguard-Ref: " + carolRef + "\r\n" + string(report(t, "arf-full.eml", ref))
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time }}
	c := in.Attribute([]byte(raw))
	if c.Account != "" || !strings.Contains(c.Problem, carol.Account) || !strings.Contains(c.Problem, aliceRef.Account) {
		t.Errorf("a report from our customer carol about alice: %+v", c)
	}
	// A report whose own header carries a forged reference is an
	// outsider's: it still counts.
	forged := "X-Outguard-Ref: og1.00000000.AAAA\r\n" + string(report(t, "arf-full.eml", ref))
	if c := in.Attribute([]byte(forged)); c.Account != aliceRef.Account {
		t.Errorf("a forged own reference: %+v", c)
	}
}
