package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/policy"
)

// holidayNotice is a shop's real notice to its customers (90 words).
const holidayNotice = `Our office will be closed on the public holiday next week. During this time our support line is unavailable, but you can still place orders through the online shop and they will be shipped as soon as we return. For urgent questions about an existing order please use the contact form on our website and choose the category that fits your request best. We appreciate your understanding and look forward to serving you again after the holiday. Kind wishes from the whole team at the shop, who thank you for being a loyal customer all these years.`

// TestReviewPoisonInnocentText: once 5 bot accounts established a phish
// run, 2 more bot copies each append a shop's real holiday notice; the
// shop's owner then sends the notice alone. Before, every key of the
// bots' copies joined the campaign and the owner's notice was held and
// the owner suspended as a campaign sender: one stolen account could
// get any customer's known text held. The bots' copies are still held,
// and a later phish copy too (limits' TestCampaignPoisonInnocentText
// has the bound on every store).
func TestReviewPoisonInnocentText(t *testing.T) {
	r := newRig(t)
	for i := range 8 {
		rcpt, h, b := phishBody(i)
		if i == 5 || i == 6 {
			b += "\n\n" + holidayNotice
		}
		r.now = r.now.Add(20 * time.Second)
		v := r.send(t, fmt.Sprintf("bot%d@isp.example", i), []string{rcpt}, []byte(h+"\n\n"+b))
		if (i >= 5) != (v.Action == policy.Quarantine) {
			t.Fatalf("bot %d's copy: %v %s", i, v.Action, v.Reason)
		}
	}
	r.now = r.now.Add(time.Minute)
	raw := "From: shop@shop.example\nTo: jane@customer.example\nSubject: Holiday closing\n\nDear Jane,\n\n" + holidayNotice + "\n"
	if v := r.send(t, "owner@shop.example", []string{"jane@customer.example"}, []byte(raw)); v.Action != policy.Accept {
		t.Fatalf("the shop's own notice: %v %s", v.Action, v.Reason)
	}
	sus, err := r.store.Suspensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bots := 0
	for _, s := range sus {
		if s.Key == "owner@shop.example" {
			t.Fatalf("the shop's owner suspended: %+v", s)
		}
		bots++
	}
	if bots != 8 {
		t.Fatalf("%d bots suspended, want 8: %+v", bots, sus)
	}
}
