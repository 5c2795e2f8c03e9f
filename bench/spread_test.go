package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// BenchmarkLoginSpread is what login spread adds to a message's store
// work: the MAIL stage's Usage and Admit at end-of-message (the baseline,
// BenchmarkLimitCheck's message) against the same with the Sight of the
// client's network, country and ASN, interleaved in the same run over 1000
// accounts, each logging in from 3 networks. Reported as the ratio of the
// two.
func BenchmarkLoginSpread(b *testing.B) {
	ctx := context.Background()
	sq, rd, pg, _ := openStores(b)
	lim := limits.Limits{MessagesPerHour: 200000, MessagesPerDay: 1000000, RecipientsPerHour: 500000, RecipientsPerDay: 2000000}
	for name, st := range map[string]limits.Store{"sqlite": sq, "redis": rd, "postgres": pg} {
		b.Run(name, func(b *testing.B) {
			var tBase, tSpread time.Duration
			message := func(key string, i int, now time.Time) {
				if _, _, err := st.Usage(ctx, key, now); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := st.Admit(ctx, key, limits.Sent{Host: "mx1", QueueID: fmt.Sprint("Q", b.N, "-", i, key), Rcpts: []string{"a@x"}, Time: now}, lim, now); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
			for i := 0; i < b.N; i++ {
				key := fmt.Sprintf("user%d@example.net", i%1000)
				now := time.Now()
				start := time.Now()
				message(key, i, now)
				tBase += time.Since(start)
				start = time.Now()
				message(key, i, now)
				net := fmt.Sprintf("10.%d.%d.0/24", i%1000/250, i%3)
				if _, err := st.Sight(ctx, key, []limits.Sighting{
					{Signal: limits.SignalNetworks, Value: net, First: now, Last: now, Detail: "10.0.0.1"},
					{Signal: limits.SignalCountries, Value: "DE", First: now, Last: now, Detail: "10.0.0.1"},
					{Signal: limits.SignalASNs, Value: "AS64500", First: now, Last: now, Detail: "10.0.0.1"},
				}, now); err != nil {
					b.Fatal(err)
				}
				tSpread += time.Since(start)
			}
			b.ReportMetric(float64(tSpread)/float64(b.N)/1e3, "µs/msg_with_spread")
			b.ReportMetric(float64(tBase)/float64(b.N)/1e3, "µs/msg_without")
			b.ReportMetric(tSpread.Seconds()/tBase.Seconds(), "ratio")
		})
	}
}

// BenchmarkLoginAddress is what keeping each login's client address (for
// milterctl accounts by-ip, relayprobe's listings) adds to a message's
// Sight: the spread sightings alone (the baseline) against the same with
// the address, interleaved in the same run over 1000 accounts logging in
// from 3 addresses each. Reported as the ratio of the two.
func BenchmarkLoginAddress(b *testing.B) {
	ctx := context.Background()
	sq, rd, pg, _ := openStores(b)
	for name, st := range map[string]limits.Store{"sqlite": sq, "redis": rd, "postgres": pg} {
		b.Run(name, func(b *testing.B) {
			var tBase, tAddr time.Duration
			for i := 0; i < b.N; i++ {
				key := fmt.Sprintf("user%d@example.net", i%1000)
				addr := fmt.Sprintf("10.%d.%d.%d", i%1000/250, i%3, i%1000%250)
				ss := []limits.Sighting{
					{Signal: limits.SignalNetworks, Value: addr[:strings.LastIndex(addr, ".")] + ".0/24", Detail: addr},
					{Signal: limits.SignalCountries, Value: "DE", Detail: addr},
					{Signal: limits.SignalASNs, Value: "AS64500", Detail: addr},
				}
				for _, with := range []bool{false, true} {
					now := time.Now()
					s := ss
					if with {
						s = append([]limits.Sighting{{Signal: limits.SightingAddress, Value: addr}}, ss...)
					}
					for j := range s {
						s[j].First, s[j].Last = now, now
					}
					start := time.Now()
					if _, err := st.Sight(ctx, key, s, now); err != nil {
						b.Fatal(err)
					}
					if with {
						tAddr += time.Since(start)
					} else {
						tBase += time.Since(start)
					}
				}
			}
			b.ReportMetric(float64(tAddr)/float64(b.N)/1e3, "µs/sight_with_address")
			b.ReportMetric(float64(tBase)/float64(b.N)/1e3, "µs/sight_without")
			b.ReportMetric(tAddr.Seconds()/tBase.Seconds(), "ratio")
		})
	}
}
