package campaign

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/mail"
	"slices"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"outguard/limits"
	"outguard/policy"
)

// What a copy says about its sender, beyond its text: innocent accounts
// that send one text between them are a site's own template (a shop's
// order confirmation, a CMS's password reset: every link at the sender's
// own domain), one organisation's staff (accounts of one login domain
// that is not the ISP's shared consumer domain), or the same letter to
// the same recipients (a petition). docs/suspension.md says
// why each is no spread, and what an attacker gains by imitating it.

// MaxRcpts is how many recipients of a copy are recorded per key and
// account (hashed): an account counts toward a campaign only as it
// reaches recipients the other accounts did not (limits.CampaignCopy).
const MaxRcpts = limits.MaxRcpts

// links notes the registrable domains of the links (href, src, bare
// URLs: linkHosts) and of the e-mail addresses (mailto: included:
// mailDomains) in text, at most 64 each: one foreign one is all that
// matters.
func (c *Collector) links(text string) {
	note := func(set *map[string]bool) func(string) {
		return func(host string) {
			if *set == nil {
				*set = map[string]bool{}
			}
			if len(*set) < 64 {
				(*set)[registrable(host)] = true
			}
		}
	}
	linkHosts(text, note(&c.hosts))
	mailDomains(text, note(&c.mailDomains))
}

// registrable is host's registrable domain (eTLD+1), lower case; host
// itself when it has none (an address, a bare TLD). A name under a
// suffix that hands out names for free (the list's private section:
// github.io, duckdns.org, blogspot.com) is nobody's own domain: "*"
// (an attacker must not get a "site of its own" per stolen account at
// no cost).
func registrable(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if suffix, icann := publicsuffix.PublicSuffix(host); !icann && strings.Contains(suffix, ".") {
		return "*"
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return d
	}
	return host
}

// domainOf is the registrable domain of address a ("" without one).
func domainOf(a string) string {
	a = strings.Trim(strings.TrimSpace(a), "<>")
	if i := strings.LastIndexByte(a, '@'); i >= 0 && i < len(a)-1 {
		if d := registrable(a[i+1:]); d != "*" {
			return d
		}
	}
	return ""
}

// ownDomain is the domain the copy's sender owns: the login's, when the
// login is an address; otherwise the envelope sender's, when the From
// header names the same domain. "" when neither (a login without a
// domain sending as someone else).
func ownDomain(t *policy.Transaction, account string) string {
	if d := domainOf(account); d != "" {
		return d
	}
	d := domainOf(t.From)
	if d == "" || d != fromDomain(t) {
		return ""
	}
	return d
}

// fromDomain is the registrable domain of the From header's first address.
func fromDomain(t *policy.Transaction) string {
	for _, h := range t.Headers {
		if strings.EqualFold(h.Name, "From") {
			if list, err := mail.ParseAddressList(h.Value); err == nil && len(list) > 0 {
				return domainOf(list[0].Address)
			}
			return ""
		}
	}
	return ""
}

// allAt reports whether every domain of set is d.
func allAt(set map[string]bool, d string) bool {
	for h := range set {
		if h != d {
			return false
		}
	}
	return true
}

// site is the domain whose own template the copy is: it has links, all of
// them at the sender's own domain. Its keys are then the site's own
// (salted with it): a hundred shops on one shop software send a hundred
// templates, each confirmation pointing at its own shop. An attacker's
// copies point at the attacker's site, which is not the stolen accounts'
// domain; copies from accounts sharing a domain share its keys.
func (c *Collector) site(t *policy.Transaction, account string) string {
	d := ownDomain(t, account)
	if d == "" || len(c.hosts) == 0 || !allAt(c.hosts, d) {
		return ""
	}
	return d
}

// organisation is the group account is counted in (limits.CampaignCopy
// Group): the accounts of a login domain that is not shared are one
// organisation's (a hosted company's staff sending one support macro,
// one out-of-office text from a client rule, one template: one sender),
// "@" and the domain's registrable name. An account of a shared domain
// (the ISP's consumer accounts: shared lists it and its subdomains), or a
// login without a domain of its own, is a sender of its own (""),
// whatever its copies say: Auto-Submitted, Reply-To and links are the
// sender's to write, and a stolen consumer account writes what the
// attacker wants. Stolen accounts of one hosted company therefore count
// once: a campaign needs that many organisations or consumers, and one
// company's accounts are left to their own limits.
//
// shared is in ASCII, lower case (sharedNames).
func organisation(account string, shared []string) string {
	d := domainOf(account)
	if d == "" {
		return ""
	}
	// The domain as domainOf reads it: after the last "@".
	_, full, _ := splitAddress(strings.ToLower(strings.TrimSpace(account)))
	full = strings.TrimSuffix(strings.Trim(full, "<>"), ".")
	// One name, however spelt: a login in punycode, the list in
	// Unicode (or the other way round).
	full = asciiName(full)
	for _, s := range shared {
		if full == s || strings.HasSuffix(full, "."+s) {
			return ""
		}
	}
	return "@" + d
}

// ownEnvelope reports whether envelope sender from is login's own
// address: at a shared domain (the ISP's, where its customers'
// mailboxes are), with the user-name login as its local part, however
// cased, or any local part when the MTA binds envelope senders to
// logins (bound: Options.SendersBound).
func ownEnvelope(login, from string, shared []string, bound bool) bool {
	l, _, ok := splitAddress(from)
	return ok && l != "" && (bound || strings.EqualFold(l, login)) && domainOf(from) != "" && organisation(from, shared) == ""
}

// sharedNames are the shared domains as organisation compares them, in
// their ASCII form: converted once, not on every message.
func sharedNames(domains []string) []string {
	out := make([]string, len(domains))
	for i, d := range domains {
		out[i] = asciiName(strings.ToLower(d))
	}
	return out
}

// asciiName is domain name d in its ASCII form (RFC 5891: punycode
// labels), d itself when it has none.
func asciiName(d string) string {
	if a, err := idna.ToASCII(d); err == nil {
		return strings.ToLower(a)
	}
	return d
}

// rcptHashes are t's envelope recipients, lower-cased, each a token
// keyed by the fleet's seed (the store keeps no address), sorted, at most
// MaxRcpts: of more, the lowest. The stores keep an account's MaxRcpts
// lowest tokens of a key within the window too (limits.MaxRcpts), so the
// order of tokens decides what is recorded, and the sender, who does not
// know the seed, cannot choose it. Unkeyed, a run's every copy to 16
// decoys whose hashes sort first recorded those alone, its victims none,
// and a campaign.accounts above 16 was never reached
// (TestReviewGroundDecoys); with the first 16 an account reached kept,
// a run whose accounts each first sent one copy to the same 16 addresses
// was one set and never a campaign (TestReviewPrimedSetRunEngine). A
// recipient that is self, the sender's own login (not one a client
// chose), is one recipient of the whole fleet (selfRcpt): a copy to
// oneself reaches nobody. Each hashed alone, a petition whose signers
// mostly Cc themselves had more than half of its signers reach a
// recipient of their own, as a run's accounts each reach their victims,
// and was made a campaign (TestReviewPetitionCcSelf); a run's copies to
// its accounts' own addresses hide nothing, its victims still count.
func rcptHashes(t *policy.Transaction, self own, seed Seed) []string {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:], seed.run)
	binary.LittleEndian.PutUint64(k[8:], seed.word)
	var out []string
	for _, r := range t.Rcpts {
		a := strings.ToLower(strings.Trim(strings.TrimSpace(r), "<>"))
		if self.is(a) {
			a = selfRcpt
		}
		h := sha256.Sum256(append(k[:], a...))
		out = append(out, hex.EncodeToString(h[:8]))
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxRcpts {
		out = out[:MaxRcpts]
	}
	return out
}

// own is a sender's own addresses (none: a client-chosen sender).
type own struct {
	// mailboxes are each a mailbox however spelt, at its registrable
	// domain (sameMailbox): the login, or the envelope sender that is
	// the login at a shared domain.
	mailboxes []string
	// bound ("": none) is the envelope sender the MTA binds to the
	// login (Options.SendersBound): that very mailbox only, at exactly
	// its domain (sameAddress).
	bound string
}

// is reports whether lower-case address a is one of the sender's own.
func (o own) is(a string) bool {
	return slices.ContainsFunc(o.mailboxes, func(s string) bool { return s != "" && sameMailbox(a, strings.ToLower(s)) }) ||
		o.bound != "" && sameAddress(a, strings.ToLower(o.bound))
}

// sameMailbox reports whether lower-case address a is the mailbox self
// (lower-case too): the same local part but an RFC 5233 "+detail", at
// the same registrable domain (a provider's mail.isp.example is its
// isp.example). A signer's Cc to their own address as their client
// spells it (citizen7+petition@isp.example), or an envelope sender at
// the ISP's mail host, gave each signer a recipient of their own, and
// the petition was a campaign at the fourth (review r3,
// TestReviewR3PetitionCcSelfVariants).
func sameMailbox(a, self string) bool {
	if a == self {
		return true
	}
	la, da, ok := mailboxParts(a)
	ls, ds, ok2 := mailboxParts(self)
	if !ok || !ok2 || localBase(la) != localBase(ls) {
		return false
	}
	// One name however spelt, as organisation reads it: a login in
	// punycode and its Cc in Unicode were two mailboxes, and the
	// petition a campaign (review r5a, TestReviewR5aPetitionCcSelfIDN).
	da, ds = asciiName(da), asciiName(ds)
	if da == ds {
		return true
	}
	r := registrable(da)
	return r != "" && r != "*" && r == registrable(ds)
}

// sameAddress reports whether lower-case addresses a and b are one
// mailbox at one domain: the same local part but an RFC 5233 "+detail",
// the same domain however spelt (Unicode or ASCII), no parent domain's.
func sameAddress(a, b string) bool {
	la, da, ok := mailboxParts(a)
	lb, db, ok2 := mailboxParts(b)
	return ok && ok2 && localBase(la) == localBase(lb) && asciiName(da) == asciiName(db)
}

// mailboxParts is splitAddress with the spellings of one mailbox made
// one (RFC 5321 section 4.1.2): a source route ("@relay:" before it,
// which a server must accept and ignore), a quoted local part that needs
// no quotes, its quoted pairs unescaped ("jane\.doe" is jane.doe), and a
// domain's final dot. A signer's Cc of their own address so spelt was a
// recipient of its own, and the petition a campaign (reviews round2 and
// final, TestReviewRound2BoundAliasSpellings,
// TestReviewFinalBoundAliasSpellings).
func mailboxParts(a string) (local, domain string, ok bool) {
	local, domain, ok = splitAddress(a)
	if strings.HasPrefix(local, "@") {
		if i := strings.LastIndexByte(local, ':'); i >= 0 {
			local = local[i+1:]
		}
	}
	if q, found := strings.CutPrefix(local, `"`); found {
		if q, found = strings.CutSuffix(q, `"`); found {
			var b strings.Builder
			for i := 0; i < len(q); i++ {
				if q[i] == '\\' && i+1 < len(q) {
					i++
				}
				b.WriteByte(q[i])
			}
			if u := b.String(); u != "" && !strings.ContainsAny(u, `\" @(),:;<>[]`) {
				local = u
			}
		}
	}
	return local, strings.TrimSuffix(domain, "."), ok
}

// splitAddress is address a's local part and domain, split at its last
// "@" as domainOf reads it: a quoted local part may hold one
// ("\"a@b\"@isp.example", RFC 5321 section 4.1.2), a domain never does.
func splitAddress(a string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(a, '@')
	if i < 0 {
		return "", "", false
	}
	return a[:i], a[i+1:], true
}

// localBase is local part l without its RFC 5233 "+detail".
func localBase(l string) string {
	if i := strings.IndexByte(l, '+'); i > 0 {
		return l[:i]
	}
	return l
}

// selfRcpt stands for every sender's own address: no address has it.
const selfRcpt = "\x00self"

// salted are keys made the site's own.
func salted(keys []string, site string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		h := sha256.Sum256([]byte(site + "\x00" + k))
		out[i] = k[:2] + hex.EncodeToString(h[:12])
	}
	return out
}

// archiveKeys marks the keys of fp (the collector's) that are an
// archive's decoded members ("a…" for "f…"): files packed and re-packed
// per copy are chosen, not passed on; they count alone
// (limits.CampaignCopy.Bands), a plain attachment only with text. An
// archive of encrypted members, which the walk cannot read, is keyed by
// its bytes and counts alone too.
func (c *Collector) archiveKeys(keys []string) []string {
	files := c.fileKeys()
	arch := map[string]bool{}
	for _, m := range c.members {
		if (len(m.hashes) > 0 || m.encrypted) && m.file >= 0 {
			arch[files[m.file]] = true
		}
	}
	out := slices.Clone(keys)
	for i, k := range out {
		if arch[k] {
			out[i] = "a" + k[1:]
		}
	}
	return out
}

// repliesElsewhere reports whether t's Reply-To names an address other
// than its From's, outside the From's organisation (a domain not in
// shared, as organisation reads it): replies go to someone the sender
// is not, something to act on besides the text (a run over stolen
// accounts collecting answers at one mailbox). A newsletter's replies
// to the organisation's other address are its own.
func repliesElsewhere(t *policy.Transaction, shared []string) bool {
	var from, reply []*mail.Address
	for _, h := range t.Headers {
		list, _ := mail.ParseAddressList(h.Value)
		switch {
		case strings.EqualFold(h.Name, "From"):
			from = append(from, list...)
		case strings.EqualFold(h.Name, "Reply-To"):
			if len(list) == 0 && strings.TrimSpace(h.Value) != "" {
				return true // unreadable: a reader's client may still read it
			}
			reply = append(reply, list...)
		}
	}
	for _, r := range reply {
		if !slices.ContainsFunc(from, func(f *mail.Address) bool {
			if strings.EqualFold(f.Address, r.Address) {
				return true
			}
			org := organisation(f.Address, shared)
			return org != "" && org == organisation(r.Address, shared)
		}) {
			return true
		}
	}
	return false
}
