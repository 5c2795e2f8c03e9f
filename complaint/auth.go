package complaint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
)

// FeedbackLoops says which reports count: anyone can mail the abuse
// address a report quoting the genuine references of mail they received,
// so only a report authenticated as coming from a receiver's feedback
// loop is counted toward an account's complaints.
type FeedbackLoops struct {
	// Domains are the DKIM signing domains (d=) of the trusted feedback
	// loops, e.g. fbl.example-mailbox.com: a report counts when a valid
	// signature of one of them covers it.
	Domains []string
	// AuthServID, when set, is the authserv-id of the ISP's own inbound
	// MTA: its Authentication-Results field (RFC 8601), the topmost one
	// only, saying dkim=pass with header.d= one of Domains also counts.
	// That MTA must remove fields of its id from mail it receives (RFC
	// 8601 section 5): below the topmost, any field may be the sender's.
	AuthServID string
	// Resolver is the IP:port of the DNS server DKIM keys are looked up
	// at; "": the system's (/etc/resolv.conf).
	Resolver string
}

// ErrKeyUnavailable: a configured feedback loop's DKIM key could not be
// looked up (the resolver did not answer): the report is neither counted
// nor kept as a forgery, but tried again (exit 75: Postfix delivers it
// again later). Only for a configured domain: anyone can sign with a
// domain whose DNS never answers.
var ErrKeyUnavailable = errors.New("a feedback loop's DKIM key is unavailable")

// maxSignatures bounds how many DKIM signatures of one report are
// verified (each a DNS lookup and an RSA verification): feedback loops
// sign once, relays add one or two.
const maxSignatures = 5

// dnsTimeout bounds each DKIM key lookup.
const dnsTimeout = 10 * time.Second

// Authenticate returns the feedback loop domain a report comes from, or
// why it is not authenticated as coming from one.
func (f FeedbackLoops) Authenticate(ctx context.Context, raw []byte) (string, error) {
	if len(f.Domains) == 0 {
		return "", fmt.Errorf("no feedback loop is configured (complaints.feedback_loops)")
	}
	raw = stripFromLine(raw)
	mime, err := mimeFields(raw)
	if err != nil {
		return "", err
	}
	var why []string
	if f.AuthServID != "" {
		d, err := f.authResults(raw)
		if err == nil {
			return d, nil
		}
		why = append(why, err.Error())
	}
	d, err := f.dkim(ctx, raw, mime)
	if err == nil || errors.Is(err, ErrKeyUnavailable) {
		return d, err
	}
	return "", fmt.Errorf("%s", strings.Join(append(why, err.Error()), "; "))
}

// authResults trusts the topmost Authentication-Results field, and only
// when our inbound MTA added it (its authserv-id).
func (f FeedbackLoops) authResults(raw []byte) (string, error) {
	h, err := textproto.ReadHeader(bufioReader(raw))
	if err != nil {
		return "", fmt.Errorf("authentication-results: header: %v", err)
	}
	fs := h.FieldsByKey("Authentication-Results")
	if !fs.Next() {
		return "", fmt.Errorf("no Authentication-Results")
	}
	id, results, err := authres.Parse(uncomment(fs.Value()))
	if err != nil {
		return "", fmt.Errorf("topmost Authentication-Results: %v", err)
	}
	if asciiLower(id) != asciiLower(f.AuthServID) {
		return "", fmt.Errorf("topmost Authentication-Results is %q's, not %q's", clean(id), f.AuthServID)
	}
	var seen []string
	for _, r := range results {
		if d, ok := r.(*authres.DKIMResult); ok {
			if l, ok := f.loop(d.Domain); ok && d.Value == authres.ResultPass {
				return l, nil
			}
			seen = append(seen, fmt.Sprintf("dkim=%s header.d=%s", d.Value, clean(d.Domain)))
		}
	}
	if len(seen) == 0 {
		return "", fmt.Errorf("%s's Authentication-Results has no DKIM result", f.AuthServID)
	}
	return "", fmt.Errorf("%s's Authentication-Results says %s: no feedback loop's pass", f.AuthServID, strings.Join(seen, ", "))
}

// readingFields are the report's header fields that decide how its body
// is read (Parse): which part holds the original, and so the reference.
var readingFields = []string{"Content-Type", "Content-Transfer-Encoding"}

// mimeFields returns which of readingFields the report's header has, and
// refuses one that has any twice, or no Content-Type. A signature covers the bottom-most
// instance of a field it names (RFC 6376 section 5.4.2), and an inbound
// MTA's pass says nothing of which instance it saw, while the parser
// reads the topmost: one added on top of a genuine report, naming a
// boundary the original's body (the sender's text) holds, would make the
// parser read only a part the sender hid there, quoting someone else's
// reference.
func mimeFields(raw []byte) ([]string, error) {
	h, err := textproto.ReadHeader(bufioReader(raw))
	if err != nil {
		return nil, fmt.Errorf("header: %v", err)
	}
	var present []string
	for _, name := range readingFields {
		switch n := len(h.Values(name)); {
		case n > 1:
			return nil, fmt.Errorf("%d %s fields: the report may be read as its signer did not write it", n, name)
		case n == 1 && name == "Content-Transfer-Encoding" && identity(h.Get(name)):
			// Read as no encoding at all (go-message's encodingReader),
			// as if absent: an ARF generator's unsigned "7bit" counts.
		case n == 1:
			present = append(present, name)
		case name == "Content-Type":
			// Every feedback loop's report has one (ARF, JMRP's
			// multipart): without it the report is read as text, where
			// a folded line of the spammer's own header reads as a
			// field of its own. One removed where the signer did not
			// sign it would do that.
			return nil, errors.New("no Content-Type: not a feedback loop's report as its signer wrote it")
		}
	}
	return present, nil
}

// identity reports whether a Content-Transfer-Encoding leaves the body as
// it is, compared as go-message compares it.
func identity(enc string) bool {
	switch strings.ToLower(enc) {
	case "7bit", "8bit", "binary":
		return true
	}
	return false
}

// dkim verifies the report's DKIM signatures (RFC 6376; the library
// refuses l=, which would let anyone append to a signed report). A
// signature counts only when it also covers the fields of mime (the
// report's readingFields): unsigned, anyone could change them, and with
// them the part the reference is read from.
func (f FeedbackLoops) dkim(ctx context.Context, raw []byte, mime []string) (string, error) {
	res := net.DefaultResolver
	if f.Resolver != "" {
		res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, f.Resolver)
		}}
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		MaxVerifications: maxSignatures,
		LookupTXT: func(name string) ([]string, error) {
			ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
			defer cancel()
			return res.LookupTXT(ctx, name)
		},
	})
	if err != nil && len(vs) == 0 {
		return "", fmt.Errorf("dkim: %v", err)
	}
	var seen []string
	var temp error
	for _, v := range vs {
		l, ok := f.loop(v.Domain)
		unsigned := uncovered(v.HeaderKeys, mime)
		switch {
		case ok && v.Err == nil && unsigned != "":
			seen = append(seen, fmt.Sprintf("d=%s valid, but does not sign %s", clean(v.Domain), unsigned))
		case ok && v.Err == nil:
			return l, nil
		case ok && dkim.IsTempFail(v.Err):
			temp = fmt.Errorf("%w: d=%s: %v", ErrKeyUnavailable, clean(v.Domain), v.Err)
		case v.Err == nil:
			seen = append(seen, fmt.Sprintf("d=%s valid, not a configured feedback loop", clean(v.Domain)))
		default:
			seen = append(seen, fmt.Sprintf("d=%s: %v", clean(v.Domain), v.Err))
		}
	}
	if temp != nil {
		return "", temp
	}
	if len(seen) == 0 {
		return "", fmt.Errorf("no DKIM signature")
	}
	return "", fmt.Errorf("dkim: %s", strings.Join(seen, "; "))
}

// uncovered is the first of names that signed (a signature's h=) does
// not name, or "".
func uncovered(signed, names []string) string {
	for _, n := range names {
		found := false
		for _, k := range signed {
			found = found || strings.EqualFold(strings.TrimSpace(k), n)
		}
		if !found {
			return n
		}
	}
	return ""
}

// loop is the configured feedback loop domain a signing domain names.
func (f FeedbackLoops) loop(domain string) (string, bool) {
	domain = asciiLower(strings.TrimSuffix(domain, "."))
	for _, d := range f.Domains {
		if domain == asciiLower(strings.TrimSuffix(d, ".")) {
			return d, true
		}
	}
	return "", false
}

// asciiLower lowers ASCII letters only: DNS names compare without case in
// ASCII (RFC 4343), while strings.EqualFold's Unicode folding takes
// U+017F for "s" and U+212A for "k", other names, other owners.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// uncomment drops the comments (RFC 5322 section 3.2.2: parenthesized,
// nested, with quoted-pairs) outside quoted strings of an
// Authentication-Results value: the library splits at every ";", and
// OpenDKIM writes "dkim=pass (2048-bit key; unprotected) header.d=...",
// rspamd "mx.isp.example (rspamd);".
func uncomment(v string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(v):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(v[i+1])
			}
			i++
		case quoted:
			b.WriteByte(c)
			quoted = c != '"'
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
