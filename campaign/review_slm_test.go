package campaign

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"outguard/limits"
	"outguard/policy"
)

// TestReviewSLMUnauthenticatedSelf (review slm, claim 2): Postfix's
// reject_authenticated_sender_login_mismatch binds the envelope sender of
// SASL-authenticated clients only. Accounts the milter keys otherwise, a
// trusted webmail's X-Webmail-User (the example config's webmail
// setting) or the client's address (trusted_key: ip, and
// unauthenticated: accept, the shipped defaults for mail Postfix relays by
// mynetworks), send with any envelope sender Postfix lets through: with
// sender_login_maps: true each copy's MAIL FROM set to its victim makes
// the victim "self" (any local part at a shared domain), every account's
// recipients {self}, and the run is never found. Without the setting the
// same run is found at the fifth account (control).
func TestReviewSLMUnauthenticatedSelf(t *testing.T) {
	for _, keyed := range []string{"header", "ip"} {
		for _, bound := range []bool{false, true} {
			r := newRig(t)
			r.eng.o.SendersBound = bound
			r.lim.Accounts.Trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			r.lim.Accounts.TrustedKey = keyed
			r.lim.Accounts.TrustedHeader = "X-Webmail-User"
			found := 0
			for i := range 12 {
				for j := range 4 {
					rcpt, h, b := phishBody(i*4 + j)
					rcpt = fmt.Sprintf("victim%d@isp.example", i*4+j)
					r.now = r.now.Add(5 * time.Second)
					hdr := h
					if keyed == "header" {
						hdr = fmt.Sprintf("X-Webmail-User: ab%d\n", 1000+i) + h
					}
					tx := transaction(t, "", []string{rcpt}, []byte(hdr+"\n\n"+b))
					tx.Conn.Addr = netip.MustParseAddr("127.0.0.1")
					if keyed == "ip" {
						tx.Conn.Addr = netip.MustParseAddr(fmt.Sprintf("127.0.0.%d", 10+i))
					}
					tx.From = "<" + rcpt + ">"
					if v, err := r.lim.CheckMessage(context.Background(), tx); err != nil || v.Action != policy.Accept {
						t.Fatalf("end of message: %v %v", v, err)
					}
					v, err := r.commit(context.Background(), tx)
					if err != nil {
						t.Fatal(err)
					}
					if acct, _ := r.lim.AccountOf(tx); i == 0 && j == 0 {
						t.Logf("%s keyed, bound %v: account %q", keyed, bound, acct)
					}
					if found == 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
						found = i + 1
					}
				}
			}
			t.Logf("%s-keyed accounts, sender_login_maps %v: found at account %d", keyed, bound, found)
			if found != 5 {
				t.Errorf("12 %s-keyed accounts (not SASL: Postfix binds no sender), each copy to one victim at the shared domain with MAIL FROM = the victim, sender_login_maps %v: found at account %d (0: never), want 5", keyed, bound, found)
			}
		}
	}
	_ = limits.MaxRcpts
}

// TestReviewSLMSubdomainCatchAllSelf (review slm, claim 2: "the account's
// own aliases reach nobody but itself", a login that owns many
// addresses, shared domains with subdomains): a business customer of the
// ISP whose login owns its subdomain of the shared domain
// (smtpd_sender_login_maps "@bizN.isp.example bizN", Postfix's lookup of
// the domain after the address) may send MAIL FROM any address there,
// and Postfix's check lets it. The milter takes the envelope sender for
// the account's own address and compares recipients with it by
// registrable domain (sameMailbox): victimK@isp.example, another
// customer, is "self" when the copy's MAIL FROM is victimK@bizN.isp.example.
// A run over 12 such stolen logins (user-name and address logins), each
// copy to one of the ISP's consumers, is never found with the setting;
// found at the fifth without it (control).
func TestReviewSLMSubdomainCatchAllSelf(t *testing.T) {
	for _, login := range []string{"biz%d", "boss@biz%d.isp.example"} {
		for _, bound := range []bool{false, true} {
			r := newRig(t)
			r.eng.o.SendersBound = bound
			found := 0
			for i := range 12 {
				for j := range 4 {
					_, h, b := phishBody(i*4 + j)
					k := i*4 + j
					rcpt := fmt.Sprintf("victim%d@isp.example", k)
					r.now = r.now.Add(5 * time.Second)
					tx := transaction(t, fmt.Sprintf(login, i), []string{rcpt}, []byte(h+"\n\n"+b))
					tx.From = fmt.Sprintf("<victim%d@biz%d.isp.example>", k, i)
					v, err := r.commit(context.Background(), tx)
					if err != nil {
						t.Fatal(err)
					}
					if found == 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
						found = i + 1
					}
				}
			}
			t.Logf("login %s, sender_login_maps %v: found at account %d", login, bound, found)
			if found != 5 {
				t.Errorf("12 stolen logins %s each owning @bizN.isp.example, each copy to victimK@isp.example with MAIL FROM victimK@bizN.isp.example, sender_login_maps %v: found at account %d (0: never), want 5", login, bound, found)
			}
		}
	}
}
