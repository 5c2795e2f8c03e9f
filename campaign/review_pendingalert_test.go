package campaign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"outguard/campaign"
	"outguard/internal/alert"
	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// lostCopy is a campaign store whose count of one account's copy runs on
// the real store and then fails: the reply lost after the store counted
// it (limits' TestFoldLostReply loses it on the wire).
type lostCopy struct {
	limits.CampaignStore
	account string
}

func (l *lostCopy) CampaignCopy(ctx context.Context, c limits.CampaignCopy, window time.Duration, threshold int) (limits.CampaignResult, error) {
	res, err := l.CampaignStore.CampaignCopy(ctx, c, window, threshold)
	if err == nil && c.Account == l.account {
		l.account = ""
		return limits.CampaignResult{}, errors.New("reply lost")
	}
	return res, err
}

// campaignAlerts counts the outbox's "campaign" alerts to the webhook,
// waiting for want and then a while for more that would come.
func campaignAlerts(t *testing.T, st limits.Store, want int) int {
	t.Helper()
	count := func() int {
		items, err := st.OutboxItems(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range items {
			var al limits.Alert
			if it.Dest == limits.DestWebhook && json.Unmarshal(it.Body, &al) == nil && al.Event == "campaign" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); count() < want && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second claim would be enqueued by now
	return count()
}

// The new-campaign alert, when the copy that established the campaign
// lost its answer (its reply lost: its sender's retry is Known), or when
// that copy alerted but a sender's suspension failed: the copy that acts
// on the pending marks the establishing copy left alerts, and the fleet
// sends it once (claimed in the store). Before, the lost answer lost
// the alert: the abuse desk learnt of the campaign only from the
// suspensions.
func TestReviewCampaignAlertFromPending(t *testing.T) {
	ctx := context.Background()
	for name, o := range storeOpeners(ctx, t) {
		for _, fault := range []string{"lost answer", "failed suspension"} {
			t.Run(name+" "+fault, func(t *testing.T) {
				st := o()
				t.Cleanup(func() { st.Close() })
				now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
				start := now // the alerts' claims: a fixed instant (read by the claim's goroutine)
				pol, _ := limits.NewPolicy(limits.Limits{}, nil)
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				lst := limits.Store(st)
				cs := st.(limits.CampaignStore)
				if fault == "lost answer" {
					cs = &lostCopy{CampaignStore: cs, account: "victim2@isp.example"}
				} else {
					fs := &failingSuspend{Store: st, account: "victim1@isp.example"}
					fs.fails.Store(1)
					lst = fs
				}
				al := &limits.Alerter{Sender: alert.Sender{Webhook: "http://127.0.0.1:9/"}, MailTo: "desk@isp.test", Log: log, Outbox: st, Once: st,
					Timeout: time.Second, Requeue: 50 * time.Millisecond, Now: func() time.Time { return start }}
				t.Cleanup(func() {
					c, cancel := context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
					al.Stop(c)
				})
				lim := &limits.Engine{Store: lst, Policy: pol, Log: log, Now: func() time.Time { return now }, Alert: al,
					Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day}
				eng := campaign.New(campaign.Options{Store: cs, Limits: lim, Accounts: 3, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
					SharedDomains: []string{"isp.example"}, Seed: campaign.FixedSeed(campaign.Seed{}), Log: log, Now: func() time.Time { return now }})
				commit := func(i int) (policy.Verdict, error) {
					now = now.Add(time.Minute)
					rcpt, raw := hamgen.Phish(i, false)
					return eng.Commit(ctx, &policy.Transaction{User: fmt.Sprintf("victim%d@isp.example", i), Rcpts: []string{rcpt}, Message: bytes.NewReader(raw), QueueID: fmt.Sprint("Q", now.Unix())})
				}
				for i := range 3 {
					if _, err := commit(i); (i == 2) != (err != nil) {
						t.Fatalf("copy %d: %v", i, err)
					}
				}
				// The third sender retries: a Known copy, held; it acts on
				// the pending marks.
				v, err := commit(2)
				if err != nil || v.Action != policy.Quarantine {
					t.Fatalf("the retry: %v %v; want held", v, err)
				}
				if sus, _ := st.Suspensions(ctx); len(sus) != 3 {
					t.Fatalf("%d suspended, want the 3 senders", len(sus))
				}
				if n := campaignAlerts(t, st, 1); n != 1 {
					t.Errorf("%d new-campaign alerts, want 1", n)
				}
			})
		}
	}
}
