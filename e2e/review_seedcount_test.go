package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/policy"
)

// Review: the campaign seed unreadable while the rest of the store
// answers (garbage planted in Redis' og:campaignseed here; a restricted
// PostgreSQL role without the schema 15 grant is the same): every
// message gets campaign.on_error (tempfail), and must not be counted
// against its sender's limits, as it was not sent. The seed fixed (the
// key removed), the account's next message passes. Before: the limits
// commit counted each tempfailed message (and each retry of it) before
// the campaign's failed, so the account's messages_per_hour was spent
// by messages refused, and the first one after the fix was refused too.
func TestReviewSeedFailureNotCounted(t *testing.T) {
	t.Parallel()
	rd := harness.StartRedis(t)
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer rc.Close()
	ctx := context.Background()
	if err := rc.Set(ctx, "og:campaignseed", "zz", 0).Err(); err != nil {
		t.Fatal(err)
	}
	store := fmt.Sprintf("limits:\n  store: redis\n  redis: {address: %q}\n  default: {messages_per_hour: 3}\n", rd.Addr)
	h, err := startSeedHost(t, seedYAML(t, "mx1", t.TempDir(), store, true, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer h.res.Close()
	for i := range 4 {
		rcpt, raw := hamgen.Phish(i, false)
		if v := h.send(t, "u1", rcpt, raw); v.Action != policy.Tempfail || !strings.Contains(v.Reason, "campaign") {
			t.Fatalf("message %d with the seed unreadable: %v, want campaign.on_error (tempfail)", i+1, v)
		}
	}
	if err := rc.Del(ctx, "og:campaignseed").Err(); err != nil {
		t.Fatal(err)
	}
	rcpt, raw := hamgen.Phish(9, false)
	if v := h.send(t, "u1", rcpt, raw); v.Action != policy.Accept {
		t.Fatalf("the seed fixed: %v, want accepted (the refused messages counted against the limit?)", v)
	}
}
