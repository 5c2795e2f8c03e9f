package campaign

import "testing"

// TestReviewSharedIDN: a consumer domain listed in Unicode and logins
// spelt in punycode (or the other way round) are one domain: its
// accounts count individually. Before, they were one organisation and a
// run over them was never found.
func TestReviewSharedIDN(t *testing.T) {
	for _, c := range []struct{ login, shared string }{
		{"a@xn--bcher-kva.example", "bücher.example"},
		{"a@bücher.example", "xn--bcher-kva.example"},
		{"a@mail.xn--bcher-kva.example", "bücher.example"},
	} {
		if g := organisation(c.login, sharedNames([]string{c.shared})); g != "" {
			t.Errorf("login %s, shared %s: organisation %q, want its own", c.login, c.shared, g)
		}
	}
	if g := organisation("a@xn--bcher-kva.example", sharedNames([]string{"isp.example"})); g == "" {
		t.Errorf("an unlisted IDN domain counted individually")
	}
}
