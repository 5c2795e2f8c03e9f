package limits

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// CrossedSince names the first of key's signals that reached its limit
// within some hour since since (a suspension's start, or the account's
// later acknowledgement), "" when none did. Counted while the account
// was suspended, they suspended nothing (it was suspended already); a
// lift that acknowledges none of them (LiftCampaign) would free an
// account with them (reviews rspare4, rspare5: undeliverable recipients;
// a stolen account's botnet keeps logging in while it is suspended,
// BeginMessage records it). Judged by the most in any hour, not the last
// hour alone: a lift an hour later would forget them (review rspare5).
//
// Undeliverable recipients and refused messages are kept one event each:
// their count is exact. A login signal keeps each distinct value's first
// and last sighting only, so a value seen in between is missed in the
// hours between: its count is a lower bound (the hour of the next login,
// counted by BeginMessage, is exact).
func (e *Engine) CrossedSince(ctx context.Context, key string, since time.Time) (string, error) {
	if acked, err := e.Store.Acknowledged(ctx, key); err != nil {
		return "", err
	} else if acked.After(since) {
		since = acked
	}
	lim := e.Policy.For(key)
	for _, c := range []struct {
		what      string
		threshold int
		list      func(context.Context, string, time.Time) ([]Undeliverable, error)
	}{
		{signalWhat[SignalUndeliverable], lim.UndeliverablePerHour, e.Store.Undeliverables},
		{"messages refused by their receivers", lim.RefusedMessagesPerHour, e.Store.Refused},
	} {
		if c.threshold <= 0 {
			continue
		}
		evs, err := c.list(ctx, key, since)
		if err != nil {
			return "", err
		}
		var at []point
		for _, ev := range evs {
			at = append(at, point{ev.Time, ev.ID}) // one per event
		}
		if n := mostInAnHour(at); n >= c.threshold { // this many suspend
			return fmt.Sprintf("%d %s within an hour (threshold %d)", n, c.what, c.threshold), nil
		}
	}
	sightings, err := e.Store.Sightings(ctx, key, since)
	if err != nil {
		return "", err
	}
	for _, sig := range Signals {
		l := lim.Threshold(sig)
		if l <= 0 {
			continue
		}
		var at []point
		for _, s := range sightings {
			if s.Signal != sig {
				continue
			}
			if !s.First.Before(since) {
				at = append(at, point{s.First, s.Value})
			}
			at = append(at, point{s.Last, s.Value})
		}
		if n := mostInAnHour(at); n > l { // more than the limit suspends (Threshold)
			return fmt.Sprintf("%d %s within an hour (limit %d)", n, signalWhat[sig], l), nil
		}
	}
	return "", nil
}

// point is a value seen at a time.
type point struct {
	t     time.Time
	value string
}

// mostInAnHour is the most distinct values seen within any hour.
func mostInAnHour(ps []point) int {
	slices.SortFunc(ps, func(a, b point) int { return a.t.Compare(b.t) })
	most := 0
	in := map[string]int{} // values in the window [ps[i].t, ps[j].t], with their points
	for i, j := 0, 0; j < len(ps); j++ {
		in[ps[j].value]++
		for ps[j].t.Sub(ps[i].t) >= Hour {
			if in[ps[i].value]--; in[ps[i].value] == 0 {
				delete(in, ps[i].value)
			}
			i++
		}
		most = max(most, len(in))
	}
	return most
}
