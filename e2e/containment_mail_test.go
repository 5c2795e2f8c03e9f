package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
)

// TestSuspensionMailNotices: an account suspended by undeliverables gets
// a mail notice to the abuse desk (limits.alert.mail_to) and to its own
// address (mail_customer: the override's address, as the login "alice"
// is not one), submitted to a real Postfix at the quarantine's release
// address, which delivers them to a sink: the evidence, the contact,
// Auto-Submitted, the null sender. No notice goes to the message's
// sender or From header (content is never an address to tell). Before:
// alerts had no mail.
func TestSuspensionMailNotices(t *testing.T) {
	notices := harness.StartSink(t)
	rel := harness.StartPostfix(t, harness.MTAConfig{RelayPort: notices.Port})
	access, refused := harness.RejectAll(3)
	s, _, _ := harness.ConfigStack(t, fmt.Sprintf(`quarantine: {release_address: %q}
limits:
  contact: abuse@isp.test
  default: {undeliverable_per_hour: 3}
  users:
    alice: {address: alice@customer.test}
  alert: {mail_to: desk@isp.test, mail_customer: true}
`, rel.Addr()), harness.MTAConfig{RcptAccess: access})
	body := harness.Msg("boss@victim.test", refused[0], "bounces", "spam")
	s.Dial(t).Send("sender@elsewhere.test", refused, body)

	msgs := notices.Wait(t, 2, 30*time.Second)
	time.Sleep(time.Second) // a third (to a content address) would be here by now
	msgs = notices.Messages()
	var to []string
	for _, m := range msgs {
		to = append(to, m.Rcpts...)
		text := string(m.Data)
		for _, want := range []string{"Account: alice", "Event:   suspended", "Signal:  undeliverable", "Evidence:", refused[0], "5.1.1", "Contact: abuse@isp.test", "Auto-Submitted: auto-generated", "Alert id: "} {
			if !strings.Contains(text, want) {
				t.Errorf("notice to %v lacks %q:\n%s", m.Rcpts, want, text)
			}
		}
		if m.From != "" {
			t.Errorf("notice sent from <%s>, want the null sender", m.From)
		}
	}
	slices.Sort(to)
	if fmt.Sprint(to) != "[alice@customer.test desk@isp.test]" {
		t.Errorf("notices to %v (%d messages)", to, len(msgs))
	}
}
