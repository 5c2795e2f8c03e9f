package limits

import (
	"context"
	"time"
)

// AccountView is an account as the reviewers see it: its limits and use,
// its suspension with the evidence, and its recent undeliverables.
type AccountView struct {
	Account    string          `json:"account"`
	Limits     Limits          `json:"limits"`
	Usage      Usage           `json:"usage"`
	Suspension *Suspension     `json:"suspension,omitempty"`
	Recent     []Undeliverable `json:"undeliverable_24h,omitempty"`
	// Acknowledged: undeliverables up to then (unsuspend, reset) are
	// history; Counting: those that count toward the next suspension.
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Counting     int       `json:"counting"`
}

// View reads key's account from st; with recent, also its undeliverables
// of the last day.
func View(ctx context.Context, st Store, pol *Policy, key string, now time.Time, recent bool) (AccountView, error) {
	u, susp, err := st.Usage(ctx, key, now)
	v := AccountView{Account: key, Limits: pol.For(key), Usage: u, Suspension: susp}
	if err == nil && recent {
		v.Recent, err = st.Undeliverables(ctx, key, now.Add(-Day))
	}
	if err == nil && recent {
		v.Acknowledged, err = st.Acknowledged(ctx, key)
		for _, e := range v.Recent {
			if e.Time.After(now.Add(-Hour)) && e.Time.After(v.Acknowledged) {
				v.Counting++
			}
		}
	}
	return v, err
}
