package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/limits"
)

// campaignCopy is message i's copy: 20 band keys of one of 50 texts,
// from one of 1000 accounts (no text reaches a campaign's quorum of
// reach: every copy runs the whole count).
func campaignCopy(i int, now time.Time) limits.CampaignCopy {
	var keys []string
	for b := range 20 {
		keys = append(keys, fmt.Sprintf("t1text%d-%02d", i%50, b))
	}
	return limits.CampaignCopy{Keys: keys, Account: fmt.Sprintf("user%d@example.net", i%1000), Subject: "s", Time: now, Bands: 5, Rcpts: []string{"r"}}
}

// BenchmarkCampaignCommit is a message's end-of-data store work with its
// campaign copy, per store: "separate" as before issue 32 (the commit,
// then the copy in a call of its own: on PostgreSQL og_admit, then
// og_campaign), "folded" the copy in the commit (Sent.Campaign: one
// call on every store). Both run in each iteration, so the ratio
// folded/separate is of one run.
func BenchmarkCampaignCommit(b *testing.B) {
	ctx := context.Background()
	sq, rd, pg, _ := openStores(b)
	for name, st := range map[string]limits.Store{"sqlite": sq, "redis": rd, "postgres": pg} {
		b.Run(name, func(b *testing.B) {
			var tSep, tFold time.Duration
			for i := 0; i < b.N; i++ {
				now := time.Now()
				c := campaignCopy(i, now)
				start := time.Now()
				if _, ok, _, _, err := st.CommitMessage(ctx, c.Account, limits.Sent{Host: "mx1", QueueID: fmt.Sprint("S", b.N, "-", i), Rcpts: []string{"a@x"}, Time: now}, limits.Limits{}, nil, now); err != nil || !ok {
					b.Fatal(ok, err)
				}
				if _, err := st.(limits.CampaignStore).CampaignCopy(ctx, c, 15*time.Minute, 1000); err != nil {
					b.Fatal(err)
				}
				tSep += time.Since(start)
				c.Account = "f" + c.Account
				cc := &limits.CampaignCount{Copy: c, Window: 15 * time.Minute, Threshold: 1000}
				start = time.Now()
				if _, ok, _, _, err := st.CommitMessage(ctx, c.Account, limits.Sent{Host: "mx1", QueueID: fmt.Sprint("F", b.N, "-", i), Rcpts: []string{"a@x"}, Time: now, Campaign: cc}, limits.Limits{}, nil, now); err != nil || !ok {
					b.Fatal(ok, err)
				}
				if !cc.Done {
					if _, err := st.(limits.CampaignStore).CampaignCopy(ctx, c, 15*time.Minute, 1000); err != nil {
						b.Fatal(err)
					}
				}
				tFold += time.Since(start)
			}
			b.ReportMetric(float64(b.N)/tFold.Seconds(), "folded_commits/s")
			b.ReportMetric(float64(b.N)/tSep.Seconds(), "separate_commits/s")
			b.ReportMetric(tFold.Seconds()/tSep.Seconds(), "ratio_folded_vs_separate")
		})
	}
}
