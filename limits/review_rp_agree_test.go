package limits_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"outguard/limits"
)

// Review rp (issue 28, claim 4): the three stores agree on recipient
// sets with what TestCampaignSetsAgree leaves out: organisation groups
// (several accounts one group, their sets the union), copies without
// recipients (an own recipient each), a group's accounts some with and
// some without recipients, accounts sending twice.
func TestReviewSetsAgreeGroups(t *testing.T) {
	sts := stores(t)
	r := rand.New(rand.NewPCG(28, 171))
	base := time.Now().Add(-10 * time.Minute)
	found := 0
	for text := range 40 {
		established := false
		for i := range 14 {
			acct := fmt.Sprintf("t%d-a%d", text, r.IntN(10))
			group := ""
			if r.IntN(3) == 0 {
				group = fmt.Sprintf("org%d.example", r.IntN(3))
			}
			var rcpts []string
			switch r.IntN(4 + text%5) {
			case 0:
			case 1, 4, 5, 6, 7:
				rcpts = []string{"shared0", "shared1"}
			default:
				for _, j := range r.Perm(6)[:1+r.IntN(3)] {
					rcpts = append(rcpts, fmt.Sprint("shared", j))
				}
			}
			res := agreeOnStores(t, sts, limits.CampaignCopy{Keys: campaignKeys(fmt.Sprint("gagree", text), false),
				Account: acct, Group: group, Rcpts: rcpts, Time: base.Add(time.Duration(text*14+i) * time.Second), Bands: 5})
			established = established || res.ID != ""
		}
		if established {
			found++
		}
	}
	t.Logf("%d of 40 texts campaigns", found)
}
