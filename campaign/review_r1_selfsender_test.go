package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/policy"
)

// TestReviewR1ChosenEnvelopeSelf (review r1, issue 28 claim 5): with a
// user-name login (citizen7) the envelope sender counts as the signer's
// own address (campaign.go: self = t.From), and a recipient equal to it
// is selfRcpt, one recipient shared by the whole fleet. The envelope
// sender is the client's to choose (the shipped configuration does not
// bind it to the login; docs name reject_sender_login_mismatch only as
// an ISP's option): a run over stolen user-name accounts sends each
// victim a message of its own with MAIL FROM set to that victim's
// address. Every account's recorded recipients are then {self}: one
// set, no spread, never a campaign (12 accounts x 4 victims, none
// held). The same copies with the accounts' own addresses as the
// envelope sender are found at the 5th account (control).
func TestReviewR1ChosenEnvelopeSelf(t *testing.T) {
	for _, chosen := range []bool{false, true} {
		r := newRig(t)
		found := 0
		for i := range 12 {
			for j := range 4 {
				rcpt, h, b := phishBody(i*4 + j)
				r.now = r.now.Add(5 * time.Second)
				tx := transaction(t, fmt.Sprintf("user%d", i), []string{rcpt}, []byte(h+"\n\n"+b))
				tx.From = fmt.Sprintf("<user%d@isp.example>", i)
				if chosen {
					tx.From = "<" + rcpt + ">"
				}
				v, err := r.commit(context.Background(), tx)
				if err != nil {
					t.Fatal(err)
				}
				if found == 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
					found = i + 1
				}
			}
		}
		t.Logf("envelope sender = the victim %v: found at account %d", chosen, found)
		if found != 5 {
			t.Errorf("12 stolen user-name accounts, each copy to one victim, MAIL FROM = the victim %v: found at account %d (0: never), want 5", chosen, found)
		}
	}
}
