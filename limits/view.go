package limits

import (
	"context"
	"time"
)

// AccountView is an account as the reviewers see it (milterctl accounts
// and the web console): its limits and use, its suspension with the
// evidence, its recent undeliverables and each signal's window.
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
	// RecentRefused: messages refused as a whole by their receivers;
	// CountingRefused: those that count toward the next suspension.
	RecentRefused   []Undeliverable `json:"refused_24h,omitempty"`
	CountingRefused int             `json:"counting_refused"`
	// Signals are the login spread and spam signals, each with its window.
	Signals []SignalView `json:"signals,omitempty"`
	// Campaigns across accounts it sent (campaign.go), the newest
	// ViewCampaigns.
	Campaigns []Campaign `json:"campaigns,omitempty"`
	// Complaints: receivers' complaints of the last 30 days attributed to
	// the account; CountingComplaints: those of the last day after the
	// acknowledgement, toward complaints_per_day.
	Complaints         []Complaint `json:"complaints,omitempty"`
	CountingComplaints int         `json:"counting_complaints"`
}

// SignalView is one signal's hour window: what counts toward its limit
// now (after the acknowledgement), with each distinct value as evidence.
type SignalView struct {
	Signal   string     `json:"signal"`
	Limit    int        `json:"limit"` // 0: off
	Since    time.Time  `json:"since"` // the window's start
	Counting int        `json:"counting"`
	Evidence []Sighting `json:"evidence,omitempty"`
}

// View reads key's account from st; with recent, also its undeliverables
// of the last day and its signals.
func View(ctx context.Context, st Store, pol *Policy, key string, now time.Time, recent bool) (AccountView, error) {
	u, susp, err := st.Usage(ctx, key, now)
	v := AccountView{Account: key, Limits: pol.For(key), Usage: u, Suspension: susp}
	if err == nil && recent {
		v.Recent, err = st.Undeliverables(ctx, key, now.Add(-Day))
	}
	if err == nil && recent {
		v.RecentRefused, err = st.Refused(ctx, key, now.Add(-Day))
	}
	if err == nil && recent {
		v.Acknowledged, err = st.Acknowledged(ctx, key)
		counting := func(evs []Undeliverable) (n int) {
			for _, e := range evs {
				if e.Time.After(now.Add(-Hour)) && e.Time.After(v.Acknowledged) {
					n++
				}
			}
			return n
		}
		v.Counting, v.CountingRefused = counting(v.Recent), counting(v.RecentRefused)
	}
	if err == nil && recent {
		v.Signals, err = signalViews(ctx, st, key, v.Limits, v.Acknowledged, now)
	}
	if cs, ok := st.(CampaignStore); ok && err == nil && recent {
		v.Campaigns, err = cs.AccountCampaigns(ctx, key, ViewCampaigns)
	}
	if err == nil && recent {
		v.Complaints, err = st.Complaints(ctx, key, now.Add(-complaintTTL))
		for _, c := range v.Complaints {
			if c.Time.After(now.Add(-Day)) && c.Time.After(v.Acknowledged) {
				v.CountingComplaints++
			}
		}
	}
	return v, err
}

// signalViews returns the window of each signal: its sightings since the
// window started and after acked, as milterd counts them.
func signalViews(ctx context.Context, st Store, key string, lim Limits, acked, now time.Time) ([]SignalView, error) {
	since := HourWindow(now)
	all, err := st.Sightings(ctx, key, since.Add(-time.Millisecond))
	if err != nil {
		return nil, err
	}
	var out []SignalView
	for _, sig := range Signals {
		sv := SignalView{Signal: sig, Limit: lim.Threshold(sig), Since: since}
		for _, s := range all {
			if s.Signal == sig && s.Last.After(acked) {
				sv.Evidence = append(sv.Evidence, s)
			}
		}
		sv.Counting = len(sv.Evidence)
		out = append(out, sv)
	}
	return out, nil
}
