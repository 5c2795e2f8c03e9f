package complaint

import (
	"strings"
	"testing"
)

// FuzzAuthResults: any header block, the topmost Authentication-Results
// read as our inbound MTA's: never a panic, and a report authenticates
// only as a configured domain, and only when that field's id is ours.
func FuzzAuthResults(f *testing.F) {
	for _, v := range []string{
		"mx.isp.test;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=fbl.test header.i=@fbl.test",
		"mx.isp.test (rspamd); dkim=pass header.d=fbl.test header.s=s1; spf=pass smtp.mailfrom=fbl.test",
		"mx.isp.test; dkim=fail (dkim=pass header.d=fbl.test; \\) x) header.d=fbl.test",
		"(mx.isp.test) mx.evil.test; dkim=pass header.d=fbl.test",
		"mx.isp.test; dkim=pass header.d=\"fbl.test (x)\"",
	} {
		f.Add([]byte("Authentication-Results: " + v + "\r\nFrom: x@fbl.test\r\n\r\nbody\r\n"))
	}
	loops := FeedbackLoops{Domains: []string{"fbl.test"}, AuthServID: "mx.isp.test"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := loops.authResults(raw)
		if err == nil && d != "fbl.test" {
			t.Fatalf("authenticated as %q", d)
		}
		if err == nil && !strings.Contains(strings.ToLower(uncomment(string(raw))), "mx.isp.test") {
			t.Fatalf("authenticated without our id:\n%q", raw)
		}
	})
}
