package limits

import (
	"net/netip"
	"strings"

	"outguard/policy"
)

// Accounts says which account a transaction counts against: the SASL login,
// or, for mail without one, a key chosen by where it came from.
type Accounts struct {
	// Host names this smarthost in message records: queue ids are unique
	// on one host only, and a fleet shares the store.
	Host string
	// FoldCase compares logins case-insensitively (Dovecot's default
	// auth_username_format %Lu, and most SQL/LDAP backends); off for
	// backends where Alice and alice are two customers.
	FoldCase bool
	// Trusted are the networks whose unauthenticated mail is keyed by
	// TrustedKey: "ip" (the relay's address: one bucket for all its users),
	// "sender" (the envelope sender) or "header" (TrustedHeader, set by the
	// trusted relay, e.g. a webmail's X-Authenticated-User).
	Trusted       []netip.Prefix
	TrustedKey    string
	TrustedHeader string
}

// Key returns the account of t at MAIL FROM. ok is false when the account
// is named by a header, known only at end-of-message (KeyAtEnd).
func (a *Accounts) Key(t *policy.Transaction) (string, bool) {
	if t.User != "" {
		return a.Login(t.User), true
	}
	if a.trusted(t) {
		switch a.TrustedKey {
		case "sender":
			if t.From != "" {
				return strings.ToLower(t.From), true
			}
		case "header":
			return "", false
		}
	}
	return ipKey(t), true
}

// KeyAtEnd returns the account named by the trusted relay's header, or
// the relay's address when the header is missing. It is only asked after
// Key said the header decides.
func (a *Accounts) KeyAtEnd(t *policy.Transaction) (string, bool) {
	if a.TrustedKey != "header" || t.User != "" || !a.trusted(t) {
		return "", false
	}
	for _, h := range t.Headers {
		if strings.EqualFold(h.Name, a.TrustedHeader) {
			if v := strings.TrimSpace(h.Value); v != "" {
				return a.Login(v), true
			}
		}
	}
	return ipKey(t), true
}

// Untrusted reports whether t's client may not name its account by header:
// the header is then removed from the message, so that nothing downstream
// takes it for the relay's word.
func (a *Accounts) Untrusted(t *policy.Transaction) bool {
	return a.TrustedKey == "header" && !a.trusted(t)
}

// ClientChosen reports whether t's account key is its client's own
// choice rather than a login the ISP issued: the envelope sender of mail
// from a trusted relay keyed by sender, local part and domain the
// relay's client's to make up. Such a key says nothing of who else
// shares its domain.
func (a *Accounts) ClientChosen(t *policy.Transaction) bool {
	return t.User == "" && a.TrustedKey == "sender" && t.From != "" && a.trusted(t)
}

// Login returns the account of a login: folded to lower case with FoldCase.
func (a *Accounts) Login(s string) string {
	if a.FoldCase {
		return strings.ToLower(s)
	}
	return s
}

func (a *Accounts) trusted(t *policy.Transaction) bool {
	addr := t.Conn.Addr.Unmap()
	for _, p := range a.Trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func ipKey(t *policy.Transaction) string {
	if t.Conn.Addr.IsValid() {
		return "ip:" + t.Conn.Addr.Unmap().String()
	}
	return "ip:unknown"
}
