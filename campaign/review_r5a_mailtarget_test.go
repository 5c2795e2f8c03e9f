package campaign

import "testing"

// TestReviewR5aMailTargetOneMailbox: mailTarget names an address on a
// free-mail or shared domain by the whole address as written, so one
// mailbox spelt per copy ("+detail" that the provider delivers to the same
// mailbox, Gmail's ignored dots, the ISP's IDN domain in Unicode or
// punycode) is a target of its own per copy: docs/suspension.md lists "a
// free-mail address" per copy among the runs not found, as if each copy
// needed a mailbox of its own; one suffices. Each pair should be one
// target.
func TestReviewR5aMailTargetOneMailbox(t *testing.T) {
	shared := sharedNames([]string{"bücher.example"})
	for _, p := range [][2]string{
		{"helpdesk+4711@gmail.com", "helpdesk+4712@gmail.com"},
		{"help.desk@gmail.com", "helpdesk@gmail.com"},
		{"helpdesk+1@outlook.com", "helpdesk@outlook.com"},
		{"helpdesk@bücher.example", "helpdesk@xn--bcher-kva.example"},
	} {
		a, b := mailTarget(p[0], shared), mailTarget(p[1], shared)
		if a != b {
			t.Errorf("%s and %s, one mailbox: targets %q and %q", p[0], p[1], a, b)
		}
	}
}
