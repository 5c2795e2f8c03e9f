package limits_test

import (
	"net/netip"
	"testing"
	"time"

	"outguard/limits"
)

// A client network is the /24 of an IPv4 address and the /48 of an IPv6
// one; an IPv4 address as Postfix may pass it (v4-mapped) is IPv4.
func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.77":              "192.0.2.0/24",
		"::ffff:192.0.2.77":       "192.0.2.0/24",
		"2001:db8:1:2:3::4":       "2001:db8:1::/48",
		"2001:db8:1:ffff:ffff::1": "2001:db8:1::/48",
		"2001:db8:2::1":           "2001:db8:2::/48",
	} {
		if got := limits.Network(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// The hour window is the rate limits': it starts at the first of the 60
// minute buckets ending with now's minute.
func TestHourWindow(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 30, 45, 0, time.UTC)
	if got, want := limits.HourWindow(now), time.Date(2026, 11, 30, 8, 31, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("window of %v starts %v, want %v", now, got, want)
	}
}
