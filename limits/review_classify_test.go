package limits_test

import (
	"testing"

	"outguard/limits"
)

// A receiver refusing the smarthost at its greeting or at EHLO/HELO (a
// blocklisted or misconfigured MX, commonly with no enhanced status: Postfix
// logs dsn=5.0.0) judged the connection, not any address: Postfix logs one
// bounced line per recipient, and counting them as undeliverable recipients
// suspends the customer who wrote to 12 people at that domain.
func TestReviewGreetingRefusalIsNotPerRecipient(t *testing.T) {
	for _, c := range []struct{ dsn, text string }{
		{"5.0.0", "host mx.example.com[192.0.2.1] refused to talk to me: 554 mx.example.com ESMTP not accepting messages"},
		{"5.0.0", "host mx.example.com[192.0.2.1] refused to talk to me: 554 Your access to this mail system has been rejected due to the sending MTA's poor reputation"},
		{"5.0.0", "host mx.example.com[192.0.2.1] said: 550 Access denied (in reply to EHLO command)"},
		{"5.0.0", "host mx.example.com[192.0.2.1] said: 550 go away (in reply to HELO command)"},
		{"5.5.1", "host mx.example.com[192.0.2.1] said: 554 5.5.1 Error: no valid recipients (in reply to STARTTLS command)"},
	} {
		if got := limits.Classify(c.dsn, c.text); got != limits.MessageScope {
			t.Errorf("Classify(%q, %q) = %v, want message", c.dsn, c.text, got)
		}
	}
}
