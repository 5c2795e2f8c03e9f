package complaint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Report is what a complaint report says, as far as it could be read.
type Report struct {
	// Kind: "arf" (multipart/report; report-type=feedback-report, RFC
	// 5965), "jmrp" (Microsoft's Junk Mail Reporting Program: the
	// original attached, X-HmXmrOriginalRecipient in it), or "forwarded"
	// (someone forwarded the spam, attached or inline).
	Kind string
	// From the feedback-report part (RFC 5965 3.1, 3.2).
	FeedbackType, UserAgent, ArrivalDate, OriginalRcpt, SourceIP string
	// The report's own header, and the original message's.
	From, Subject, MessageID       string
	OriginalSubject, OriginalMsgID string
	OriginalFrom, OriginalMailFrom string
	// Refs are the reference values found, most trusted place first: the
	// header of the original (message/rfc822, text/rfc822-headers), then
	// text bodies (an inline forward).
	Refs []string
	// Own are the reference values of the report's own header: a report
	// that came in through a smarthost running milterd, sent by one of
	// its customers. They never attribute the report.
	Own []string
	// Problems: what could not be read (a truncated or malformed part);
	// whatever was read before still counts.
	Problems []string
}

// Bounds of the parser, on untrusted bytes: a report is read up to
// MaxReportSize (the rest is cut, and noted), MIME nesting to maxDepth,
// at most maxParts parts, a text body or a header block up to maxText
// each, and at most maxRefs reference candidates.
const (
	MaxReportSize = 10 << 20
	maxDepth      = 8
	maxParts      = 100
	maxText       = 1 << 20
	maxRefs       = 16
)

// Parse reads a complaint report; header is the reference's header field
// name (complaints.header). It never fails: what cannot be read is in
// Problems, and a report with no reference has no Refs.
func Parse(raw []byte, header string) *Report {
	p := &parser{rep: &Report{Kind: "forwarded"}, header: header}
	if len(raw) > MaxReportSize {
		raw = raw[:MaxReportSize]
		p.problem(fmt.Sprintf("report cut at %d bytes", MaxReportSize))
	}
	raw = stripFromLine(raw)
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		p.problem("header: " + errText(err))
		// An unparseable report may still quote the reference, but not
		// in its own header (see below): only after it is searched.
		if _, body, ok := bytes.Cut(raw, []byte("\n\n")); ok {
			p.scanText(body)
		} else if _, body, ok := bytes.Cut(raw, []byte("\r\n\r\n")); ok {
			p.scanText(body)
		}
		p.addText()
		return p.rep
	}
	r := p.rep
	r.From, r.Subject, r.MessageID = e.Header.Get("From"), e.Header.Get("Subject"), e.Header.Get("Message-Id")
	for _, name := range []string{header, CFBLFeedbackID} {
		for _, v := range e.Header.Values(name) {
			if v = strings.Join(strings.Fields(v), ""); len(r.Own) < maxRefs && len(v) <= MaxRefLen {
				r.Own = append(r.Own, v)
			}
		}
	}
	if t, params, _ := e.Header.ContentType(); t == "multipart/report" && strings.EqualFold(params["report-type"], "feedback-report") {
		r.Kind = "arf"
	}
	p.walk(e, 0)
	p.addText()
	if r.Kind == "forwarded" && p.jmrp {
		r.Kind = "jmrp"
	}
	// Not the report's own header: a report that came in through a
	// smarthost running milterd carries that host's reference for
	// whoever relayed the report, which says nothing about the spam.
	return r
}

type parser struct {
	rep    *Report
	header string
	parts  int
	jmrp   bool
	// text are the references quoted in text parts: after every one
	// found in an original's header (Parse), wherever the parts sit (a
	// receiver's human-readable part quoting the spam's body comes first
	// in an ARF report). text[0] are the reference field's, text[1]
	// CFBL-Feedback-ID's: after them, as in a header (headerRefs), for a
	// customer's own one sits above ours, which milterd adds last.
	text [2][]string
}

// addText appends the references quoted in text parts.
func (p *parser) addText() {
	for _, vs := range p.text {
		for _, v := range vs {
			p.addRef(v)
		}
	}
}

func (p *parser) problem(s string) {
	if len(p.rep.Problems) < 10 {
		p.rep.Problems = append(p.rep.Problems, s)
	}
}

func (p *parser) addRef(v string) {
	v = strings.Join(strings.Fields(v), "")
	if v == "" || len(p.rep.Refs) >= maxRefs || len(v) > MaxRefLen {
		return
	}
	for _, x := range p.rep.Refs {
		if x == v {
			return
		}
	}
	p.rep.Refs = append(p.rep.Refs, v)
}

// headerRefs adds the values of the reference fields of h, the last
// first: milterd appends its own at the end of the header block, so a
// reference a customer copied from mail they received and put in their
// own message's header (kept if the MTA did not let milterd remove it)
// comes after the one that names who really sent the message.
func (p *parser) headerRefs(h textproto.Header) {
	for _, name := range []string{p.header, CFBLFeedbackID} {
		vs := h.Values(name)
		for i := len(vs) - 1; i >= 0; i-- {
			p.addRef(vs[i])
		}
	}
}

func (p *parser) walk(e *message.Entity, depth int) {
	if depth > maxDepth {
		p.problem(fmt.Sprintf("nesting deeper than %d", maxDepth))
		return
	}
	t, _, _ := e.Header.ContentType()
	switch {
	case strings.HasPrefix(t, "multipart/"):
		mr := e.MultipartReader()
		if mr == nil {
			return
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if part == nil {
				p.problem("multipart: " + errText(err))
				return
			}
			if p.parts++; p.parts > maxParts {
				p.problem(fmt.Sprintf("more than %d parts", maxParts))
				return
			}
			p.walk(part, depth+1)
		}
	case t == "message/feedback-report":
		h := p.readHeader(e.Body)
		r := p.rep
		r.FeedbackType, r.UserAgent, r.ArrivalDate = h.Get("Feedback-Type"), h.Get("User-Agent"), h.Get("Arrival-Date")
		r.OriginalRcpt, r.SourceIP, r.OriginalMailFrom = h.Get("Original-Rcpt-To"), h.Get("Source-IP"), h.Get("Original-Mail-From")
		if r.ArrivalDate == "" {
			r.ArrivalDate = h.Get("Received-Date") // RFC 5965 3.2's older name
		}
	case t == "message/rfc822" || t == "message/global" || t == "text/rfc822-headers" || t == "message/rfc822-headers":
		p.original(p.readHeader(e.Body))
	case t == "text/plain" || t == "":
		body, err := io.ReadAll(io.LimitReader(e.Body, maxText))
		if err != nil {
			p.problem("text: " + errText(err))
		}
		p.scanText(body)
	}
}

// readHeader reads a header block from r: a message's (whose body is not
// needed: only the header carries the reference) or a feedback report's
// fields. A block cut short (a truncated report) gives what it has.
func (p *parser) readHeader(r io.Reader) textproto.Header {
	b, err := io.ReadAll(io.LimitReader(r, maxText))
	if err != nil {
		p.problem("part: " + errText(err))
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i+1]
	} else if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		b = b[:i+2]
	} else {
		// No end of header: cut at the last whole line.
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			b = b[:i+1]
		}
	}
	h, err := textproto.ReadHeader(bufio.NewReader(io.MultiReader(bytes.NewReader(b), strings.NewReader("\r\n"))))
	if err != nil {
		p.problem("header block: " + errText(err))
	}
	return h
}

// original takes the original message's header.
func (p *parser) original(h textproto.Header) {
	r := p.rep
	if r.OriginalSubject == "" {
		r.OriginalSubject, r.OriginalMsgID, r.OriginalFrom = h.Get("Subject"), h.Get("Message-Id"), h.Get("From")
	}
	if v := h.Get("X-HmXmrOriginalRecipient"); v != "" {
		p.jmrp = true
		if r.OriginalRcpt == "" {
			r.OriginalRcpt = v
		}
	}
	p.headerRefs(h)
}

// scanText finds reference fields quoted in a text: an inline forward
// ("> X-Outguard-Ref: og1..."), with the continuation lines a mail client
// folded it into.
func (p *parser) scanText(b []byte) {
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		// A line that starts with white space continues the field above
		// (RFC 5322 2.2.3), which the sender of the original wrote: it
		// is never a field.
		line := unquote(lines[i])
		name, val, ok := strings.Cut(line, ":")
		if !ok || line[0] == ' ' || line[0] == '\t' || !(strings.EqualFold(strings.TrimSpace(name), p.header) || strings.EqualFold(strings.TrimSpace(name), CFBLFeedbackID)) {
			continue
		}
		v := strings.TrimSpace(val)
		for i+1 < len(lines) && len(v) < MaxRefLen {
			next := unquote(lines[i+1])
			if next == "" || (next[0] != ' ' && next[0] != '\t') || strings.Contains(next, ":") {
				break
			}
			v += strings.TrimSpace(next)
			i++
		}
		k := 0
		if !strings.EqualFold(strings.TrimSpace(name), p.header) {
			k = 1
		}
		if looksLikeRef([]byte(v)) && len(p.text[k]) < maxRefs {
			p.text[k] = append(p.text[k], v)
		}
	}
}

// unquote drops a line's end and the quote markers of a reply or forward
// ("> ", "> > ", ">"), with the space after the last one, which is the
// quote's: what is left starts with white space only when the quoted
// line did. (A client quoting with a bare ">" makes a folded line look
// like a field: its continuation is not joined, the reference does not
// verify, the report is kept as unattributable.)
func unquote(l string) string {
	l = strings.TrimRight(l, "\r")
	quoted := false
	for {
		t := strings.TrimLeft(l, " ")
		if !strings.HasPrefix(t, ">") {
			if quoted {
				l = strings.TrimPrefix(l, " ")
			}
			return l
		}
		l, quoted = t[1:], true
	}
}

func errText(err error) string {
	switch {
	case err == nil:
		return "unreadable"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "cut short"
	}
	return err.Error()
}

// stripFromLine drops an mbox "From " line (pipe(8) flag F, procmail, a
// Maildir filled from an mbox): it is no header field, the message starts
// after it.
func stripFromLine(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
	}
	return raw
}

func bufioReader(raw []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(raw)) }
