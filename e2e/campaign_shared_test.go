package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/quarantine"
)

// campaignStaffOOO is one hosted company's (firma0.example, not a shared
// domain) out-of-office text, set up by its six staff as a client rule
// (no Auto-Submitted), answering the people who wrote to them.
func campaignStaffOOO(t *testing.T) []hamgen.Message {
	var msgs []hamgen.Message
	for k := range 6 {
		m := hamgen.AutoReply(28, 0, k, k)
		m.Raw = []byte(strings.Replace(string(m.Raw), "Auto-Submitted: auto-replied\r\n", "", 1))
		if strings.Contains(string(m.Raw), "Auto-Submitted") || !strings.HasSuffix(m.Account, "@firma0.example") {
			t.Fatalf("the client rule's reply: %s", m.Account)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// Through Postfix, on each store, SASL logins that are addresses and
// campaign.shared_domains naming the ISP's consumer domain (isp.test):
// the six staff of one hosted company send their out-of-office text:
// delivered, no campaign, nobody suspended (one organisation, one
// sender). Then a phishing run over stolen consumer accounts
// (victimN@isp.test; per-recipient greeting, name, reference and
// tracking token; HTML on every other copy; some marked Auto-Submitted:
// auto-replied): its 5 copies are delivered and their senders suspended,
// the next copies, from two more consumers, are held (250, delivered to
// nobody, in the quarantine with the campaign as the finding) and their
// senders suspended too, and a suspended sender is refused. Before #28's
// review the example's shared_domains: [] left isp.test one
// organisation: every copy delivered, nobody suspended (the "[]" case
// below, which milterd warns about at start).
func TestCampaignAddressLoginsThroughPostfix(t *testing.T) {
	t.Parallel()
	victims := make([]string, 7)
	for i := range victims {
		victims[i] = fmt.Sprintf("victim%d@isp.test", i)
	}
	marked := func(i int) string {
		if i%3 == 2 {
			return "Auto-Submitted: auto-replied\r\n"
		}
		return ""
	}
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			staff := campaignStaffOOO(t)
			r := newCampaignRig(t, kind, "[isp.test]", staff, victims...)
			if strings.Contains(r.s.Log.String(), "no shared_domains") {
				t.Errorf("warned with shared_domains listed")
			}
			r.innocent(t, staff)
			r.phishRun(t, victims[:5], marked)
			for i, v := range victims[5:] {
				if got := r.phish(t, 5+i, v, v, marked(5+i)); got != "250" {
					t.Fatalf("copy %d, from a new account: %q, want 250 (held)", 6+i, got)
				}
			}
			if got := r.phish(t, 7, victims[0], victims[0], ""); !strings.HasPrefix(got, "451 4.7.1 Account suspended for sending a mail campaign") {
				t.Fatalf("a suspended sender: %q", got)
			}
			if got := r.suspended(t); !slices.Equal(sorted(got), victims) {
				t.Fatalf("suspended: %v, want %v", got, victims)
			}
			ctx := context.Background()
			held, err := r.res.Quarantine.List(ctx, quarantine.Filter{})
			if err != nil || len(held) != 2 {
				t.Fatalf("quarantine %+v %v, want copies 6 and 7", held, err)
			}
			for _, h := range held {
				if f := h.Findings; len(f) != 1 || f[0].Engine != "campaign" || !slices.Contains(victims[5:], h.User) {
					t.Fatalf("held %+v", h)
				}
			}
			// The staff's 6 and the run's first 5; the held copies never.
			r.s.Sink.Wait(t, len(staff)+5, 60*time.Second)
			time.Sleep(time.Second) // a held copy would have come by now
			phish := 0
			for _, m := range r.s.Sink.Messages() {
				if strings.Contains(string(m.Data), "verify your mailbox") {
					phish++
				}
			}
			if phish != 5 {
				t.Fatalf("%d phishing copies delivered, want 5", phish)
			}
			list, err := r.res.Store.(limits.CampaignStore).Campaigns(ctx, time.Time{}, 10)
			if err != nil || len(list) != 1 {
				t.Fatalf("campaigns %+v %v", list, err)
			}
		})
	}
	// The operator's explicit []: isp.test is one organisation, the run
	// counts once and is never found; milterd says so at start.
	t.Run("sqlite, shared_domains: []", func(t *testing.T) {
		t.Parallel()
		r := newCampaignRig(t, "sqlite", "[]", nil, victims...)
		if !strings.Contains(r.s.Log.String(), "no shared_domains") {
			t.Errorf("no start-up warning:\n%s", r.s.Log.String())
		}
		for i, v := range victims {
			if got := r.phish(t, i, v, v, marked(i)); got != "250" {
				t.Fatalf("phishing copy %d: %q", i, got)
			}
		}
		r.s.Sink.Wait(t, len(victims), 60*time.Second)
		if got := r.suspended(t); len(got) != 0 {
			t.Fatalf("suspended with shared_domains: [] %v: the test no longer shows what [] costs", got)
		}
	})
}
