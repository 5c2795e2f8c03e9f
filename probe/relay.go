package probe

import (
	"context"
	"fmt"
	"net/netip"
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

// relay tries the relay forms in order on one SMTP port. The first
// recipient accepted gets a short message to the canary saying who scans
// and why (DATA is never sent otherwise); the finding is suspected until
// its token arrives at the canary. One accepted form is enough: a relay is
// not asked to carry more than one test message.
func (s *Scanner) relay(ctx context.Context, addr netip.AddrPort) *OpenService {
	c := s.Config
	ip := addressLiteral(addr.Addr())
	var cn *conn
	var server string
	open := func() bool {
		var err error
		if cn, err = s.dial(ctx, addr.String()); err != nil {
			cn = nil
			return false
		}
		code, banner, err := cn.reply()
		if err != nil || code != 220 {
			cn.Close()
			cn = nil
			return false
		}
		// The name the server gives itself, for the forms that use it.
		if f := strings.Fields(banner); len(f) > 1 {
			server = f[1]
		}
		if code, _, err := cn.cmd("EHLO " + c.HELO); err != nil || code != 250 {
			if code, _, err = cn.cmd("HELO " + c.HELO); err != nil || code != 250 {
				cn.Close()
				cn = nil
				return false
			}
		}
		return true
	}
	if !open() {
		return nil
	}
	defer func() {
		if cn != nil {
			cn.send("QUIT\r\n")
			cn.Close()
		}
	}()
	reconnects := 0
	for _, form := range relayForms {
		if ctx.Err() != nil {
			return nil
		}
		token := newToken()
		from := expand(form.from, c.Canary.Domain, token, ip, server)
		to := expand(form.to, c.Canary.Domain, token, ip, server)
		code, text, err := cn.cmd("MAIL FROM:<" + from + ">")
		if err == nil && code/100 == 2 {
			code, text, err = cn.cmd("RCPT TO:<" + to + ">")
			if err == nil && code/100 == 2 {
				return s.relayData(cn, form, from, to, token, text)
			}
		}
		if err != nil {
			// Some servers hang up after a few refusals: go on afresh.
			cn.Close()
			cn = nil
			if reconnects++; reconnects > 2 || !open() {
				return nil
			}
			continue
		}
		cn.cmd("RSET")
	}
	return nil
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
