package e2e

import (
	"io"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/setup"
)

// Issue 29's late mail through two real smarthosts (two Postfix, two
// milterd) sharing Redis or PostgreSQL: a message passes MAIL and RCPT on
// host 2 and is in DATA when host 1 suspends the account (undeliverable
// recipients); at the final dot host 2 answers the suspension (451, the
// configured tempfail), and neither its queue nor the remote MX ever holds
// the message. Before, host 2 accepted it (250: its check had read the
// account at MAIL) and relayed it to the sink unless containment's sweep
// caught it in the queue first.
func TestLateMailRefusedAtEndOfData(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			host1, host2, _, rcpts := suspendingPair(t, kind)
			c := host2.Dial(t).Raw()
			if err := c.Mail("alice@customer.test", nil); err != nil {
				t.Fatalf("host 2 MAIL: %v", err)
			}
			if err := c.Rcpt("friend@remote.test", nil); err != nil {
				t.Fatalf("host 2 RCPT: %v", err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatalf("host 2 DATA: %v", err)
			}
			if _, err := io.Copy(w, strings.NewReader(strings.ReplaceAll(msg("in flight"), "\n", "\r\n"))); err != nil {
				t.Fatal(err)
			}
			// While host 2's client is in DATA, host 1 suspends alice.
			host1.Dial(t).Send("alice@customer.test", rcpts, msg("spam"))
			got := harness.Reply(w.Close())
			if !strings.HasPrefix(got, "451 4.7.1 Account suspended for sending to too many undeliverable recipients; contact abuse@isp.test (ref ") {
				t.Fatalf("host 2's final dot after the suspension on host 1: %q", got)
			}
			time.Sleep(2 * time.Second) // what Postfix would have relayed by now
			if q := queue(t, host2.Postfix.Dir); len(q) != 0 {
				t.Errorf("host 2's queue holds %v", q)
			}
			for _, m := range host2.Sink.Messages() {
				t.Errorf("the remote MX got a message from host 2: %+v", m)
			}
		})
	}
}

// suspendingPair is two smarthosts sharing a store of kind: host 1's
// Postfix refuses the 11 recipients returned (alice's sending to them
// crosses the default undeliverable_per_hour), host 2 relays to its sink.
func suspendingPair(t *testing.T, kind string) (host1, host2 *harness.Stack, res2 *setup.Resources, rcpts []string) {
	yaml := sharedStore(t, kind, "  contact: abuse@isp.test\n")
	access, rcpts := harness.RejectAll(11)
	host1, _, _ = harness.ConfigStack(t, yaml, harness.MTAConfig{RcptAccess: access})
	host2, _, res2 = harness.ConfigStack(t, yaml, harness.MTAConfig{})
	return host1, host2, res2, rcpts
}
