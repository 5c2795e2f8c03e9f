package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// relayForm is one way to ask a server to relay: the envelope sender and
// recipient. The recipient forms are those nmap's smtp-open-relay tries
// (plain, the % hack, quoted local parts, user@domain@[ip], source routes,
// bang paths), each with the canary domain as the real destination.
type relayForm struct {
	name     string
	from, to string // templates: {D} canary domain, {T} token, {IP} the target's address literal, {S} the server's name
}

var relayForms = []relayForm{
	{"null sender", "", "{T}@{D}"},
	{"sender in the canary domain", "relayprobe@{D}", "{T}@{D}"},
	{"sender at the server's name", "relayprobe@{S}", "{T}@{D}"},
	{"sender at the server's address", "relayprobe@{IP}", "{T}@{D}"},
	{"percent hack at the address", "relayprobe@{IP}", "{T}%{D}@{IP}"},
	{"percent hack at the name", "relayprobe@{IP}", "{T}%{D}@{S}"},
	{"quoted address", "relayprobe@{IP}", `"{T}@{D}"`},
	{"quoted percent hack", "relayprobe@{IP}", `"{T}%{D}"`},
	{"double at, address", "relayprobe@{IP}", "{T}@{D}@{IP}"},
	{"quoted local part at the address", "relayprobe@{IP}", `"{T}@{D}"@{IP}`},
	{"double at, name", "relayprobe@{IP}", "{T}@{D}@{S}"},
	{"source route via the address", "relayprobe@{IP}", "@{IP}:{T}@{D}"},
	{"source route via the name", "relayprobe@{IP}", "@{S}:{T}@{D}"},
	{"bang path", "relayprobe@{IP}", "{D}!{T}"},
	{"bang path at the address", "relayprobe@{IP}", "{D}!{T}@{IP}"},
	{"bang path at the name", "relayprobe@{IP}", "{D}!{T}@{S}"},
}

func expand(tmpl, domain, token, ip, server string) string {
	return strings.NewReplacer("{D}", domain, "{T}", token, "{IP}", ip, "{S}", server).Replace(tmpl)
}

// addressLiteral is a target as an address literal, RFC 5321 4.1.3:
// [192.0.2.1], [IPv6:2001:db8::1].
func addressLiteral(a netip.Addr) string {
	if a = a.Unmap(); a.Is6() {
		return "[IPv6:" + a.String() + "]"
	}
	return "[" + a.String() + "]"
}

// relay tries every relay form on one SMTP port, inside TLS when the
// server offers STARTTLS. The first recipient accepted gets a short message
// to the canary saying who scans and why; DATA is sent once per server,
// never again, and the other forms are only asked for (RCPT), so that the
// evidence lists every form the server accepts. The finding is suspected
// until its token arrives at the canary. Forms deferred with 4xx
// (greylisting) are asked again once, greylist_retry later, with the same
// envelope; still deferred, they make a suspected finding with the reply.
func (s *Scanner) relay(ctx context.Context, addr netip.AddrPort) (*OpenService, Outcome) {
	c := s.Config
	ip := addressLiteral(addr.Addr())
	ss := &smtpSession{s: s, addr: addr}
	if o, ok := ss.open(ctx); !ok {
		return nil, o
	}
	defer ss.close()
	type tried struct {
		form            relayForm
		from, to, token string
		first, again    string // the replies to RCPT, and to its retry
	}
	var (
		f        *OpenService
		accepted []string
		deferred []tried
	)
	// try asks for one envelope; a 2xx recipient gets the test message if
	// none was sent yet. It returns the RCPT reply code, 0 on a lost
	// connection.
	try := func(t tried) (int, string) {
		code, text, err := ss.cn.cmd("MAIL FROM:<" + t.from + ">")
		if err == nil && code/100 == 2 {
			code, text, err = ss.cn.cmd("RCPT TO:<" + t.to + ">")
			if err == nil && code/100 == 2 {
				if f == nil {
					f = s.relayData(ss.cn, t.form, t.from, t.to, t.token, text)
					f.Evidence = ss.note + f.Evidence
				} else {
					accepted = append(accepted, t.form.name)
				}
			}
		}
		if err != nil {
			return 0, ""
		}
		if _, _, err := ss.cn.cmd("RSET"); err != nil {
			return 0, ""
		}
		return code, text
	}
	reconnects, lost := 0, ""
	for _, form := range relayForms {
		if ctx.Err() != nil {
			return nil, Outcome{State: Error, Detail: "the scan ended"}
		}
		token := s.Key.NewToken()
		t := tried{form: form, from: expand(form.from, c.Canary.Domain, token, ip, ss.server), to: expand(form.to, c.Canary.Domain, token, ip, ss.server), token: token}
		code, text := try(t)
		if code == 0 {
			// Some servers hang up after a few refusals: go on afresh.
			// One that keeps hanging up was not tested to the end.
			ss.close()
			if reconnects++; reconnects > 2 {
				lost = "lost the connection 3 times; forms left untested"
				break
			}
			if o, ok := ss.open(ctx); !ok {
				lost = "lost the connection, and then: " + o.State + " " + o.Detail
				break
			}
			continue
		}
		if code/100 == 4 {
			t.first = text
			deferred = append(deferred, t)
		}
	}
	if f == nil && len(deferred) > 0 {
		// Greylisting (RFC 6647): the same envelope, from the same
		// address, once more after the delay; without a connection held.
		ss.close()
		if err := s.pause(ctx, time.Duration(c.GreylistRetry)); err != nil {
			return nil, Outcome{State: Error, Detail: "the scan ended"}
		}
		if o, ok := ss.open(ctx); ok {
			for i, t := range deferred {
				code, text := try(t)
				if f != nil {
					f.Evidence = fmt.Sprintf("greylisted (%s), accepted %v later; %s", clean(t.first), time.Duration(c.GreylistRetry), f.Evidence)
					break
				}
				if code == 0 {
					break
				}
				deferred[i].again = text
			}
		} else {
			deferred[0].again = "could not ask again: " + o.State + " " + o.Detail
		}
		if f == nil {
			t := deferred[0]
			f = &OpenService{Service: "smtp-relay", Result: Suspected, Test: t.form.name,
				Evidence: clean(fmt.Sprintf("%sMAIL FROM:<%s> RCPT TO:<%s>: %s; still deferred %v later: %s",
					ss.note, t.from, t.to, t.first, time.Duration(c.GreylistRetry), t.again))}
		}
	}
	if f == nil && lost != "" {
		return nil, Outcome{State: Error, Detail: clean(lost)}
	}
	if f == nil {
		return nil, Outcome{State: Closed}
	}
	if len(accepted) > 0 {
		f.Evidence += "; also accepted: " + strings.Join(accepted, ", ")
	}
	return f, Outcome{State: Open}
}

// smtpSession is the connection relay tests run on: greeted, and inside
// TLS when the server offers it.
type smtpSession struct {
	s      *Scanner
	addr   netip.AddrPort
	cn     *conn
	server string // the name the server gives itself in its greeting
	note   string // "inside TLS ...: " when the tests ran in TLS
	noTLS  bool   // STARTTLS failed once: plain from then on
}

// open connects, reads the greeting, says EHLO (HELO if refused) and
// starts TLS when offered. It reports how the target ends when it fails.
func (ss *smtpSession) open(ctx context.Context) (Outcome, bool) {
	s, c := ss.s, ss.s.Config
	cn, err := s.dial(ctx, ss.addr.String())
	if err != nil {
		return dialOutcome(err), false
	}
	code, banner, err := cn.replyLines()
	if err != nil || code != 220 {
		cn.Close()
		if isTimeout(err) && len(banner) == 0 {
			return noAnswer(err), false
		}
		detail := "greeting: " + strings.Join(banner, " ")
		if err != nil {
			detail += ": " + err.Error()
		}
		if err != nil || code/100 == 4 {
			// Hung up, reset, or busy (421: an open relay saturated by
			// its spammers says so): not tested, so not closed.
			return Outcome{State: Error, Detail: clean(detail)}, false
		}
		return Outcome{State: Closed, Detail: clean(detail)}, false
	}
	// The name the server gives itself, for the forms that use it: the
	// first word after the code of the greeting's first line (RFC 5321
	// 4.2: "220-name" or "220 name").
	if f := strings.Fields(banner[0][min(4, len(banner[0])):]); len(f) > 0 {
		ss.server = f[0]
	}
	code, ehlo, err := cn.replyAfter("EHLO " + c.HELO)
	if err != nil || code != 250 {
		if code, _, err = cn.cmd("HELO " + c.HELO); err != nil || code != 250 {
			cn.Close()
			if err != nil || code/100 == 4 {
				return Outcome{State: Error, Detail: clean(fmt.Sprintf("HELO: %d %v", code, err))}, false
			}
			return Outcome{State: Closed, Detail: "HELO refused"}, false
		}
	}
	if !ss.noTLS && slices.ContainsFunc(ehlo, func(l string) bool {
		return len(l) > 4 && strings.EqualFold(strings.TrimSpace(l[4:]), "STARTTLS")
	}) {
		tcn, err := ss.startTLS(ctx, cn)
		if err != nil {
			// Tested in plain then: reopen without TLS.
			cn.Close()
			ss.noTLS = true
			return ss.open(ctx)
		}
		cn = tcn
	}
	ss.cn = cn
	return Outcome{}, true
}

// startTLS upgrades cn (RFC 3207) and greets again. The certificate is not
// verified: the server's identity is not what is tested, and the evidence
// says so.
func (ss *smtpSession) startTLS(ctx context.Context, cn *conn) (*conn, error) {
	if code, text, err := cn.cmd("STARTTLS"); err != nil || code != 220 {
		return nil, fmt.Errorf("STARTTLS: %d %s %v", code, text, err)
	}
	tc := tls.Client(cn.Conn, &tls.Config{InsecureSkipVerify: true, ServerName: ss.server})
	cn.SetDeadline(cn.deadline())
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	cn.stop()
	tcn := ss.s.wrap(ctx, tc, cn.end)
	if code, _, err := tcn.cmd("EHLO " + ss.s.Config.HELO); err != nil || code != 250 {
		tcn.Close()
		return nil, fmt.Errorf("EHLO in TLS: %d %v", code, err)
	}
	st := tc.ConnectionState()
	ss.note = fmt.Sprintf("inside TLS (%s, certificate not verified): ", tls.VersionName(st.Version))
	return tcn, nil
}

func (ss *smtpSession) close() {
	if ss.cn != nil {
		ss.cn.send("QUIT\r\n")
		ss.cn.Close()
		ss.cn = nil
	}
}

// replyAfter sends an SMTP command and reads its reply line by line.
func (c *conn) replyAfter(cmd string) (int, []string, error) {
	if err := c.send(cmd + "\r\n"); err != nil {
		return 0, nil, err
	}
	return c.replyLines()
}

// relayData sends the test message through an accepted recipient.
func (s *Scanner) relayData(cn *conn, form relayForm, from, to, token, rcptReply string) *OpenService {
	c := s.Config
	f := &OpenService{Service: "smtp-relay", Result: Suspected, Test: form.name, token: token,
		Evidence: clean(fmt.Sprintf("MAIL FROM:<%s> RCPT TO:<%s>: %s", from, to, rcptReply))}
	code, text, err := cn.cmd("DATA")
	if err != nil || code != 354 {
		f.Evidence += clean("; DATA refused: " + text)
		f.token = "" // nothing was sent: it stays suspected
		return f
	}
	info := ""
	if c.InfoURL != "" {
		info = "\r\nAbout this scan: " + c.InfoURL
	}
	msg := fmt.Sprintf("From: relayprobe <relayprobe@%s>\r\nTo: <%s@%s>\r\nSubject: relay test %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nX-Relayprobe-Token: %s\r\n\r\n"+
		"This message tests whether a mail server in the ISP's customer ranges relays\r\n"+
		"mail for anyone. It was sent by %s and is addressed to the ISP's own\r\n"+
		"test mailbox only; if you read it elsewhere, the server that sent it is an\r\n"+
		"open relay.%s\r\n.\r\n",
		c.HELO, token, c.Canary.Domain, token, time.Now().UTC().Format(time.RFC1123Z), token, c.HELO, token, c.HELO, info)
	if err := cn.send(msg); err != nil {
		f.Evidence += "; connection lost during DATA"
		return f
	}
	code, text, _ = cn.reply()
	f.Evidence += clean("; DATA: " + text)
	if code/100 != 2 {
		f.token = ""
	}
	return f
}
