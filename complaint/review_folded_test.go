package complaint

import (
	"strings"
	"testing"
)

// A report read as text (an inline forward, a feedback loop that quotes
// the original in its text) holds the original's header as lines. A
// continuation line of a field above our reference, which the sender
// wrote ("Subject: hi" folded onto " X-Outguard-Ref: ..."), is part of
// that field, not a reference field of its own: quoted or not, only a
// line that starts a field names a reference. Before: the folded line
// was taken, and came before the reference that names who sent the mail;
// and a quoted blank line ("> ") after a quoted reference joined the
// quoted body to it ("...Buynow."), which then did not verify.
func TestReviewFoldedLineIsNoField(t *testing.T) {
	alice, mref := aliceAndMallory(t)
	for name, quote := range map[string]string{"unquoted": "", "quoted": "> ", "quoted twice": "> > "} {
		raw := "From: victim@receiver.test\r\nSubject: Fwd: spam\r\nContent-Type: text/plain\r\n\r\n" +
			quote + "Subject: Cheap pills\r\n" + quote + " X-Outguard-Ref: " + alice + "\r\n" +
			quote + "X-Outguard-Ref: " + mref[:30] + "\r\n" + quote + "  " + mref[30:] + "\r\n" + quote + "\r\n" + quote + "Buy now.\r\n"
		rep := Parse([]byte(raw), "X-Outguard-Ref")
		if strings.Join(rep.Refs, ",") != mref {
			t.Errorf("%s: refs %v, want only mallory's", name, rep.Refs)
		}
	}
}

// Read as text, the original's header lines come in their order, and
// ours is the last field of the header milterd stamped: a customer's own
// CFBL-Feedback-ID above it (kept without cfbl_address), quoting alice's
// reference, came first. The reference field comes before the RFC 9477
// one, as in a header read as a header (headerRefs).
func TestReviewTextCFBLAfterReference(t *testing.T) {
	alice, mref := aliceAndMallory(t)
	raw := "From: victim@receiver.test\r\nSubject: Fwd: spam\r\nContent-Type: text/plain\r\n\r\n" +
		"> Subject: Cheap pills\r\n> CFBL-Feedback-ID: " + alice + "\r\n> X-Outguard-Ref: " + mref + "\r\n>\r\n> Buy now.\r\n"
	if rep := Parse([]byte(raw), "X-Outguard-Ref"); len(rep.Refs) != 2 || rep.Refs[0] != mref {
		t.Errorf("refs %v, want mallory's first", rep.Refs)
	}
}

// aliceAndMallory are references of alice's message and of mallory's.
func aliceAndMallory(t *testing.T) (alice, mallory string) {
	ks := testKeys(t, 1)
	alice, _ = ks.Seal(aliceRef)
	m := aliceRef
	m.Account = "mallory@customer.test"
	mallory, _ = ks.Seal(m)
	return alice, mallory
}
