package campaign

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/policy"
)

// sendAll commits msgs (as the pipeline does after its checks: SASL
// login, envelope sender, recipients), a minute apart, and returns the
// first message that was not accepted or was stamped as establishing a
// campaign (index -1: none), with the campaigns and suspensions the store
// holds afterwards.
func (r *rig) sendAll(t *testing.T, msgs []hamgen.Message) (first, campaigns, suspended int) {
	t.Helper()
	first = -1
	for i, m := range msgs {
		r.now = r.now.Add(time.Minute)
		tx := transaction(t, m.Account, m.Rcpts, m.Raw)
		tx.From = "<" + m.From + ">"
		v, err := r.commit(context.Background(), tx)
		if err != nil {
			t.Fatal(err)
		}
		if first < 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
			first = i
		}
	}
	cs, err := r.store.Campaigns(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	sus, err := r.store.Suspensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return first, len(cs), len(sus)
}

// TestInnocentFamilies: innocent accounts that send one text between
// them, each family from 6 to 10 accounts within the window (the example
// config's 5): no campaign, nobody suspended. Before: each family was a
// campaign at its fifth account, and every sender suspended.
func TestInnocentFamilies(t *testing.T) {
	families := map[string]func(i int) hamgen.Message{
		// (a) ten shops on one shop software, each to its own customers
		"shops": func(i int) hamgen.Message { return hamgen.ShopConfirmation(1, i%10, i/10) },
		// (b) the password reset of 8 WordPress sites
		"wordpress": func(i int) hamgen.Message { return hamgen.PasswordReset(1, i%8, i/8) },
		// (c) one company's holiday auto-reply, from 6 staff accounts
		"autoreply": func(i int) hamgen.Message { return hamgen.AutoReply(1, 0, i%6, i/6) },
		// (d) 10 customers' petition letter to their representative
		"petition": func(i int) hamgen.Message { return hamgen.Petition(1, i) },
		// (e) 10 parents passing the school's PDF on, to the teacher or
		// their own family
		"school": func(i int) hamgen.Message { return hamgen.SchoolLetter(1, i) },
	}
	for name, f := range families {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			var msgs []hamgen.Message
			accounts := map[string]bool{}
			for i := range 20 {
				m := f(i)
				msgs = append(msgs, m)
				accounts[m.Account] = true
			}
			// The family is one text to the fingerprint: not passed
			// because it is unfingerprinted.
			if fp := fingerprintOf(t, msgs[0].Rcpts, msgs[0].Raw); len(fp.Keys()) == 0 {
				t.Fatalf("%s: no fingerprint", name)
			}
			if first, c, s := r.sendAll(t, msgs); first >= 0 || c != 0 || s != 0 {
				t.Fatalf("%s (%d accounts): campaign at message %d, %d campaigns, %d suspended", name, len(accounts), first, c, s)
			}
		})
	}
}

// phishFrom is hamgen.Phish's copy i sent by account, From its own
// address, with extra header fields and further recipients.
func phishFrom(i int, account string, extra string, rcpts ...string) hamgen.Message {
	rcpt, raw := hamgen.Phish(i, i%2 == 1)
	s := strings.Replace(string(raw), "From: IT Service Desk <it@isp.example>\n", "From: <"+account+">\n"+extra, 1)
	return hamgen.Message{Account: account, From: account, Rcpts: append([]string{rcpt}, rcpts...), Raw: []byte(s)}
}

// TestFamiliesNoEvasion: what lets the innocent families pass does not
// let the campaign through (found at the fifth account, as without it):
// copies marked as auto-replies, copies that also go to one shared
// recipient, copies from accounts of their own domains (the shops'), the
// same attachment with the same text, and copies whose links all point
// at the sender's domain when the senders share that domain.
func TestFamiliesNoEvasion(t *testing.T) {
	attach := func(m hamgen.Message) hamgen.Message {
		hdr, body, _ := strings.Cut(string(m.Raw), "\nContent-Type: text/plain\n\n")
		if body == "" {
			hdr, body, _ = strings.Cut(string(m.Raw), "\nContent-Type: multipart/alternative; boundary=zz\n\n")
			body = "--zz" + strings.SplitN(body, "--zz", 3)[1] // the text part
			_, body, _ = strings.Cut(body, "\n\n")
		}
		m.Raw = []byte(hdr + "\nContent-Type: multipart/mixed; boundary=mm\n\n--mm\nContent-Type: text/plain\n\n" + body +
			"\n--mm\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=invoice.html\n\n" + strings.Repeat("<script>steal()</script>\n", 40) + "--mm--\n")
		return m
	}
	ownLinks := func(m hamgen.Message) hamgen.Message {
		// every link at isp.example, the domain all the stolen accounts share
		m.Raw = []byte(strings.ReplaceAll(string(m.Raw), "secure-login.phish.example", "isp.example"))
		return m
	}
	cases := map[string]func(i int) hamgen.Message{
		"auto-submitted": func(i int) hamgen.Message {
			return phishFrom(i, fmt.Sprintf("victim%d@isp.example", i), "Auto-Submitted: auto-replied\nIn-Reply-To: <x@y>\n")
		},
		"one shared recipient": func(i int) hamgen.Message {
			return phishFrom(i, fmt.Sprintf("victim%d@isp.example", i), "", "collector@drop.example")
		},
		"own domains": func(i int) hamgen.Message {
			return phishFrom(i, fmt.Sprintf("orders@shop%d.example", i), "")
		},
		// a free name per stolen account (a login without a domain,
		// sending as and linking to its own github.io site)
		"free own sites": func(i int) hamgen.Message {
			m := phishFrom(i, fmt.Sprintf("it@desk%d.github.io", i), "")
			m.Account = fmt.Sprint("bot", i)
			m.Raw = []byte(strings.ReplaceAll(string(m.Raw), "secure-login.phish.example", fmt.Sprintf("desk%d.github.io", i)))
			return m
		},
		"own domains, auto-submitted": func(i int) hamgen.Message {
			return phishFrom(i, fmt.Sprintf("info@firma%d.example", i), "Auto-Submitted: auto-replied\n")
		},
		"attachment and text": func(i int) hamgen.Message {
			return attach(phishFrom(i, fmt.Sprintf("victim%d@isp.example", i), ""))
		},
		// marked as auto-replies, every link at the domain the stolen
		// accounts share, the answer going elsewhere
		"auto-submitted, own links, an address elsewhere": func(i int) hamgen.Message {
			m := ownLinks(phishFrom(i, fmt.Sprintf("victim%d@isp.example", i), "Auto-Submitted: auto-replied\n"))
			m.Raw = []byte(strings.Replace(string(m.Raw), "IT Service Desk", "IT Service Desk, helpdesk@verify-mailbox.example", 1))
			return m
		},
		"auto-submitted, own links, Reply-To elsewhere": func(i int) hamgen.Message {
			return ownLinks(phishFrom(i, fmt.Sprintf("victim%d@isp.example", i), "Auto-Submitted: auto-replied\nReply-To: <desk@verify-mailbox.example>\n"))
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			var msgs []hamgen.Message
			for i := range 8 {
				msgs = append(msgs, f(i))
			}
			if first, c, s := r.sendAll(t, msgs); first != 4 || c != 1 || s != 8 {
				t.Fatalf("campaign at message %d (want 4), %d campaigns, %d suspended (want 8)", first, c, s)
			}
		})
	}
}

// TestHamWithFamilies: the generated corpus with the innocent template
// families mixed in (each round 8 shops, 8 WordPress sites, one
// company's 6 staff auto-replying, 8 petitioners, 8 parents), within an
// hour, for three seeds: no campaign, nobody suspended. Before: the
// families made campaigns.
func TestHamWithFamilies(t *testing.T) {
	seeds, n := []uint64{28, 29, 30}, 6000
	if testing.Short() || raceBuild {
		seeds, n = seeds[:1], 2000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := newRig(t)
			start := r.now
			corpus := append(hamgen.Corpus(seed, n, time.Hour), hamgen.Families(seed, 10, time.Hour)...)
			slicesSortByAt(corpus)
			accounts := map[string]bool{}
			for _, m := range corpus {
				r.now = start.Add(m.At)
				accounts[m.Account] = true
				tx := transaction(t, m.Account, m.Rcpts, m.Raw)
				if m.From != "" {
					tx.From = "<" + m.From + ">"
				}
				v, err := r.commit(context.Background(), tx)
				if err != nil {
					t.Fatal(err)
				}
				if v.Action != policy.Accept || len(tx.Stamps()) > 0 {
					t.Fatalf("%s message of %s: %s %s %v", m.Kind, m.Account, v.Action, v.Reason, tx.Stamps())
				}
			}
			cs, _ := r.store.Campaigns(context.Background(), time.Time{}, 100)
			sus, _ := r.store.Suspensions(context.Background())
			if len(cs) != 0 || len(sus) != 0 {
				t.Fatalf("%d campaigns, %d suspended in ham", len(cs), len(sus))
			}
			t.Logf("seed %d: %d messages from %d accounts, 0 campaigns", seed, len(corpus), len(accounts))
		})
	}
}
