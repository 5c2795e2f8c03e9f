package complaint

import (
	"context"
	"testing"
)

// A feedback loop's domain matches d= (or header.d=) in any ASCII case,
// with or without a trailing dot, and nothing else: not a subdomain, not
// its parent, and not a name with a Unicode letter that folds onto an
// ASCII one (U+017F LATIN SMALL LETTER LONG S folds to "s", U+212A KELVIN
// SIGN to "k": strings.EqualFold took "fbl.teſt" for "fbl.test"), which
// is another DNS name, someone else's to sign for. The authserv-id
// likewise.
func TestReviewLoopDomainMatch(t *testing.T) {
	loops := FeedbackLoops{Domains: []string{"fbl.test", "Kfbl.example."}, AuthServID: "mx.isp.test", Resolver: "127.0.0.1:1"}
	raw := report(t, "arf-full.eml", "x")
	for d, want := range map[string]string{
		"fbl.test": "fbl.test", "FBL.Test": "fbl.test", "fbl.test.": "fbl.test", "kfbl.example": "Kfbl.example.",
		"sub.fbl.test": "", "test": "", "fbl.te\u017ft": "", "\u212afbl.example": "", "xn--fbl-test": "",
	} {
		got, _ := loops.Authenticate(context.Background(), append([]byte("Authentication-Results: mx.isp.test; dkim=pass header.d="+d+"\r\n"), raw...))
		if got != want {
			t.Errorf("header.d=%q: %q, want %q", d, got, want)
		}
	}
	// The same of the authserv-id: a field of "mx.iſp.test" is not
	// our MTA's, which removes only its own from what it receives.
	for id, want := range map[string]string{"MX.isp.test": "fbl.test", "mx.iſp.test": ""} {
		got, _ := loops.Authenticate(context.Background(), append([]byte("Authentication-Results: "+id+"; dkim=pass header.d=fbl.test\r\n"), raw...))
		if got != want {
			t.Errorf("authserv-id %q: %q, want %q", id, got, want)
		}
	}
}
