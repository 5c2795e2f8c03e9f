package main

import (
	"strings"
	"testing"
	"time"
)

// An account that sent two campaigns is suspended for the one found
// first (the second finds it suspended and records nothing): lifting
// that suspension names the other, so that an operator who judged the
// first innocent does not release a phishing run's sender unawares
// (review rclear). One that sent only the campaign it was suspended for
// gets no note.
func TestUnsuspendNamesOtherCampaigns(t *testing.T) {
	t.Parallel()
	cfg, st := campaignsConfig(t)
	now := time.Now()
	ids := twoCampaigns(t, st, now)
	suspendAll(t, st, ids["petition"], now, "both", "petition0")
	st.Close()
	out, code := ctl(t, cfg, "accounts", "unsuspend", "both")
	if code != 0 || !strings.Contains(out, "note: it also sent campaign(s) "+ids["phish"]+", not what it was suspended for") || strings.Contains(out, ids["petition"]) {
		t.Errorf("unsuspend of a sender of two campaigns (%d):\n%s", code, out)
	}
	if out, code = ctl(t, cfg, "accounts", "unsuspend", "petition0"); code != 0 || strings.Contains(out, "note:") {
		t.Errorf("unsuspend of a sender of one campaign (%d):\n%s", code, out)
	}
}
