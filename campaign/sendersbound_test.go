package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/policy"
)

// aliasPetition is the committee's petition of 20 signers whose SASL
// logins are user names unlike their addresses (ab1000…), each Cc'ing
// their own address (first.last@isp.example, also the envelope sender).
func aliasPetition() []hamgen.Message {
	var msgs []hamgen.Message
	for i := range 20 {
		m := hamgen.Petition(1, i)
		own := fmt.Sprintf("jane.doe%d@isp.example", i)
		m.Account, m.From = fmt.Sprintf("ab%d", 1000+i), own
		m.Rcpts = nil
		for j := range 5 {
			m.Rcpts = append(m.Rcpts, fmt.Sprintf("member%d@council.example", j))
		}
		m.Rcpts = append(m.Rcpts, own)
		msgs = append(msgs, m)
	}
	return msgs
}

// TestSendersBoundAlias: signers whose own address is an alias unlike
// their login, Cc'ing it. With the envelope sender the client's to
// choose (the default) the Cc is a recipient of each signer's own and
// the petition a campaign at the fifth (the documented limit); with
// sender_login_maps (the MTA binds senders to logins) the envelope
// sender is the signer's own address, and the petition none.
func TestSendersBoundAlias(t *testing.T) {
	for _, bound := range []bool{false, true} {
		r := newRig(t)
		r.eng.o.SendersBound = bound
		first, cs, s := r.sendAll(t, aliasPetition())
		if bound && (first >= 0 || cs != 0 || s != 0) {
			t.Errorf("senders bound: 20 signers Cc'ing their own alias: campaign at message %d, %d campaigns, %d suspended; want none", first, cs, s)
		}
		if !bound && (first != 4 || s != 20) {
			t.Errorf("senders not bound: 20 signers Cc'ing their own alias: campaign at message %d (want 4, the fifth), %d suspended (want all 20): the documented limit changed; update docs/suspension.md", first, s)
		}
	}
}

// TestSendersBoundRunFound: with sender_login_maps, a run over stolen
// user-name accounts, each copy to one victim (at the ISP's own domain or
// elsewhere) and Cc'ing the account's own alias, is still found at the
// fifth account: only the account's own address is "self", its victims
// still count.
func TestSendersBoundRunFound(t *testing.T) {
	for _, victims := range []string{"isp.example", "victim.example"} {
		r := newRig(t)
		r.eng.o.SendersBound = true
		found := 0
		for i := range 12 {
			for j := range 4 {
				_, h, b := phishBody(i*4 + j)
				rcpt := fmt.Sprintf("victim%d@%s", i*4+j, victims)
				own := fmt.Sprintf("first.last%d@isp.example", i)
				r.now = r.now.Add(5 * time.Second)
				tx := transaction(t, fmt.Sprintf("ab%d", 1000+i), []string{rcpt, own}, []byte(h+"\n\n"+b))
				tx.From = "<" + own + ">"
				v, err := r.commit(context.Background(), tx)
				if err != nil {
					t.Fatal(err)
				}
				if found == 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
					found = i + 1
				}
			}
		}
		if found != 5 {
			t.Errorf("senders bound, 12 stolen accounts, each copy to a victim at %s and the account's own alias: found at account %d (0: never), want 5", victims, found)
		}
	}
}
