package campaign

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"outguard/internal/hamgen"
	"outguard/policy"
)

// A trusted relay keyed by envelope sender (trusted_key: sender): its
// client chooses the senders. One phishing run sent under made-up local
// parts at one unlisted domain is still a campaign (each sender is an
// account of its own, as for its limits); before, they were one
// organisation ("@gmail.example") and never counted past one.
func TestReviewTrustedSenderNotGrouped(t *testing.T) {
	r := newRig(t)
	r.lim.Accounts.Trusted = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	r.lim.Accounts.TrustedKey = "sender"
	found := -1
	for i := range 8 {
		rcpt, raw := hamgen.Phish(i, false)
		tx := transaction(t, "", []string{rcpt}, raw)
		tx.From = fmt.Sprintf("promo%d@gmail.example", i)
		tx.Conn = policy.Conn{Addr: netip.MustParseAddr("192.0.2.7")}
		v, err := r.commit(context.Background(), tx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != policy.Accept && found < 0 {
			found = i + 1
		}
	}
	if found != 6 {
		t.Fatalf("a run under made-up senders of a trusted relay: held from copy %d, want the 6th (5 accounts)", found)
	}
}
