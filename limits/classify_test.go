package limits

import "testing"

// The classification of docs/suspension.md, on the wording of real Postfix
// and Sendmail logs and of common receivers.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		dsn, text string
		want      Scope
	}{
		{"5.1.1", "host mx.remote.test[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)", RecipientScope},
		{"5.1.1", "User unknown", RecipientScope}, // Sendmail's stat=
		{"5.2.1", "host mx said: 550 5.2.1 mailbox disabled (in reply to RCPT TO command)", RecipientScope},
		{"5.4.4", "Host or domain name not found. Name service error for name=gone.test type=MX", RecipientScope},
		{"5.1.10", "host mx said: 550 5.1.10 null MX (in reply to RCPT TO command)", RecipientScope},
		{"5.0.0", "host mx said: 550 unknown user (in reply to RCPT TO command)", RecipientScope},
		{"", "550 5.1.1 <a@b>... no such user", RecipientScope},
		// A whole message: at end of DATA whatever the code, and policy,
		// size and content codes wherever they come.
		{"5.3.0", "host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed (in reply to end of DATA command)", MessageScope},
		{"5.1.1", "host mx said: 550 5.1.1 user unknown (in reply to end of DATA command)", MessageScope},
		{"5.3.4", "host mx said: 552 5.3.4 message too big (in reply to end of DATA command)", MessageScope},
		{"5.3.4", "host mx said: 552 5.3.4 message size exceeds fixed limit (in reply to MAIL FROM command)", MessageScope},
		{"5.7.26", "host gmail-smtp-in.l.google.com said: 550-5.7.26 Unauthenticated email is not accepted (in reply to end of DATA command)", MessageScope},
		{"5.7.1", "host mx said: 554 5.7.1 Message rejected as spam (in reply to RCPT TO command)", MessageScope},
		{"5.7.1", "550 5.7.1 <a@b>... Relaying denied", MessageScope},
		{"5.6.0", "host mx said: 554 5.6.0 content rejected", MessageScope},
		{"5.2.3", "host mx said: 552 5.2.3 message too large", MessageScope},
		{"5.3.0", "500 5.3.0 Error: command failed (Remote protocol error)", MessageScope}, // Sendmail's reply= (stat=)
		{"5.0.0", "host mx said: 554 transaction failed (in reply to DATA command)", MessageScope},
		// Temporary: nothing.
		{"4.2.0", "host mx said: 450 4.2.0 greylisted (in reply to RCPT TO command)", NotCounted},
		{"4.7.1", "host mx said: 451 4.7.1 try later (in reply to end of DATA command)", NotCounted},
		{"", "451 4.3.0 try later", NotCounted},
	} {
		if got := Classify(c.dsn, c.text); got != c.want {
			t.Errorf("%s %q: %v, want %v", c.dsn, c.text, got, c.want)
		}
	}
}
