package limits

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// noticeTemplate is the mail notice of an alert, to the abuse desk or
// the customer: what happened, the evidence (at most 20 lines), and whom
// to contact. Every value comes from the alert, never from a message's
// content but the evidence's own lines (recipients and receivers'
// replies), each cut to one line.
var noticeTemplate = template.Must(template.New("notice").Funcs(template.FuncMap{
	"line": oneLine,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).Parse(`{{with .A}}Account: {{line .Account}}
Event:   {{.Event}}
{{- if .Signal}}
Signal:  {{.Signal}}{{end}}
{{- with .Suspension}}
Reason:  {{line .Reason}}
Since:   {{time .Since}}
{{- if .Until.IsZero}}
Until:   lifted by the abuse desk{{else}}
Until:   {{time .Until}} (it then ends by itself){{end}}
{{- if .Evidence}}

Evidence:{{range $i, $e := .Evidence}}{{if lt $i 20}}
  {{time $e.Time}}  {{$e.Source}}  {{$e.Status}}  {{line $e.Rcpt}}  {{line $e.QueueID}}  {{line $e.Text}}{{end}}{{end}}{{end}}
{{- if .Sightings}}

Evidence:{{range $i, $s := .Sightings}}{{if lt $i 20}}
  {{$s.Signal}} {{line $s.Value}}  first {{time $s.First}}, last {{time $s.Last}}  {{line $s.Detail}}{{end}}{{end}}{{end}}
{{- end}}
{{- if .Limit}}
Limit:   {{.Limit}} {{.What}}{{if not .Until.IsZero}}, free again at {{time .Until}}{{end}}{{end}}
{{- if .QueueIDs}}
Host:    {{line .Host}}
Queued messages: {{range .QueueIDs}}{{line .}} {{end}}{{end}}
{{- end}}
{{if .Contact}}
Contact: {{line .Contact}}
{{end}}
Alert id: {{.A.ID}}
`))

// notice renders the mail notice of it's alert to to, from from.
func notice(it OutboxItem, to, from, contact string) (string, error) {
	var al Alert
	if err := json.Unmarshal(it.Body, &al); err != nil {
		return "", err
	}
	var body strings.Builder
	if err := noticeTemplate.Execute(&body, struct {
		A       Alert
		Contact string
	}{al, contact}); err != nil {
		return "", err
	}
	subject := "outguard: account " + oneLine(al.Account) + " " + al.Event
	h := []string{
		"From: " + from,
		"To: " + to,
		// The encoder splits a long subject into encoded-words of 75
		// characters, one space apart: each on a line of its own (RFC
		// 2047 section 2), or 200 multibyte characters make a line of
		// 2400.
		"Subject: " + strings.ReplaceAll(mime.QEncoding.Encode("utf-8", subject), "?= =?", "?=\r\n =?"),
		"Date: " + it.Created.UTC().Format(time.RFC1123Z),
		// The same on every retry: a repeat is recognisable.
		"Message-ID: <" + it.AlertID + "." + fmt.Sprintf("%x", sha256.Sum256([]byte(to)))[:12] + "@outguard.invalid>",
		"Auto-Submitted: auto-generated", // RFC 3834: no auto-replies to it
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
	}
	var lines []string
	for _, l := range strings.Split(body.String(), "\n") {
		lines = append(lines, fold(l, maxLine)...)
	}
	text := strings.Join(lines, "\r\n")
	return strings.Join(h, "\r\n") + "\r\n\r\n" + text, nil
}

// maxLine is RFC 5322's limit on a line (section 2.1.1), without its
// CRLF.
const maxLine = 998

// fold cuts l into lines of at most max bytes, each cut on a UTF-8
// character's boundary; the continuations are indented by two spaces.
func fold(l string, max int) []string {
	var out []string
	for len(l) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(l[cut]) {
			cut--
		}
		out = append(out, l[:cut])
		l = "  " + l[cut:]
	}
	return append(out, l)
}

// oneLine cuts s to one line of at most 200 printable characters.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
