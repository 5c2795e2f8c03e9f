package probe

import (
	"net/netip"
	"testing"
)

// Review of #26/#30: each test is an attempt to make a scan that did not
// test a target declare it fixed, or to make a wait unbounded.

// A scan whose ports: put another family on the port of a confirmed
// finding (smtp on 8080, where an HTTP proxy was confirmed) did not test
// that finding: it is not fixed, and the block stays.
func TestReviewOtherFamilyOnSamePortIsNotFixed(t *testing.T) {
	known := Known{"192.0.2.9:8080": {{Target: "192.0.2.9:8080", Service: "http-connect", Result: Confirmed}}}
	cur := &Scan{Targets: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Ports: Ports{"smtp": {8080}},
		Counts: map[string]int{Closed: 256}}
	if d := Compare(known, cur); len(d.Fixed) != 0 {
		t.Errorf("an SMTP-only scan of port 8080 declared the HTTP proxy there fixed: %v", d.Fixed)
	}
	known.Apply(cur)
	if len(known["192.0.2.9:8080"]) != 1 {
		t.Errorf("an SMTP-only scan of port 8080 dropped the HTTP proxy finding: %v", known)
	}
}
