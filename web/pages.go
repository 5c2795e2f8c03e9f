package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"

	"outguard/containment"
	"outguard/limits"
	"outguard/mimewalk"
	"outguard/probe"
	"outguard/quarantine"
)

// ListMax is how many entries a list shows; a filter narrows it.
const ListMax = 500

// Shown bounds what an entry's page shows of its headers and of each text
// part: enough to judge, not a message's worth of megabytes.
const Shown = 64 << 10

// maxTexts bounds how many text parts an entry's page shows as source.
const maxTexts = 20

type listData struct {
	Filter    listFilter          `json:"filter"`
	Entries   []quarantine.Record `json:"entries"`
	Total     int                 `json:"total"` // matching; Entries has the newest ListMax
	Truncated bool                `json:"truncated"`
}

type listFilter struct {
	Account string `json:"account,omitempty"`
	Rule    string `json:"rule,omitempty"`
	State   string `json:"state,omitempty"`
	Since   string `json:"since,omitempty"` // a date (2006-01-02) or a duration (24h, 7d)
	Until   string `json:"until,omitempty"` // a date: entries up to its end
}

// parseSince reads a date (local midnight) or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n >= 0 && fmt.Sprint(n) == days {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("since %q: want a date (2006-01-02) or a duration (24h, 7d)", s)
}

func (s *Server) quarantineList(w http.ResponseWriter, r *http.Request, u user) {
	q := r.URL.Query()
	f := listFilter{Account: q.Get("account"), Rule: q.Get("rule"), State: q.Get("state"), Since: q.Get("since"), Until: q.Get("until")}
	now := time.Now()
	since, err := parseSince(f.Since, now)
	var until time.Time
	if err == nil && f.Until != "" {
		if until, err = time.ParseInLocation(time.DateOnly, f.Until, time.Local); err == nil {
			until = until.AddDate(0, 0, 1)
		} else {
			err = fmt.Errorf("until %q: want a date (2006-01-02)", f.Until)
		}
	}
	if err == nil && f.State != "" && !validState(f.State) {
		err = fmt.Errorf("state %q: want held, releasing, released or deleted", f.State)
	}
	if err != nil {
		s.fail(w, r, u, http.StatusBadRequest, err.Error())
		return
	}
	account := f.Account
	if account != "" && !strings.HasPrefix(account, "ip:") {
		account = s.o.Login(account)
	}
	qf := quarantine.Filter{User: account, Finding: f.Rule, State: f.State, Since: since, Until: until, Limit: ListMax}
	recs, err := s.o.Quarantine.List(r.Context(), qf)
	total := len(recs)
	if err == nil && total == ListMax { // there may be more: count them
		total, err = s.o.Quarantine.Count(r.Context(), qf)
	}
	if err != nil {
		s.fail(w, r, u, http.StatusInternalServerError, "quarantine: "+err.Error())
		return
	}
	d := listData{Filter: f, Total: total, Entries: recs, Truncated: total > len(recs)}
	if d.Entries == nil {
		d.Entries = []quarantine.Record{}
	}
	s.reply(w, r, u, "quarantine", d)
}

func validState(s string) bool {
	switch s {
	case quarantine.Held, quarantine.Releasing, quarantine.Released, quarantine.Deleted:
		return true
	}
	return false
}

// entryData is one entry: its record, and its message as the scanner
// walked it.
type entryData struct {
	quarantine.Record
	Subject      string             `json:"subject,omitempty"` // decoded (RFC 2047)
	Headers      string             `json:"headers,omitempty"` // as received, up to Shown bytes
	Parts        []partView         `json:"parts,omitempty"`
	WalkFindings []mimewalk.Anomaly `json:"walk_findings,omitempty"`
	Texts        []partText         `json:"texts,omitempty"`
	Problem      string             `json:"problem,omitempty"` // why the message cannot be shown
	ReleaseStale bool               `json:"-"`                 // releasing past its lease: resolve it
}

// partView is a part or archive member as the scanner walked it, with the
// engines' findings on it (a rule, a signature) besides the walk's own.
type partView struct {
	mimewalk.Part
	Matches []quarantine.Finding `json:"matches,omitempty"`
}

// partText is a text part's decoded content, shown as source: an HTML
// part is never rendered.
type partText struct {
	Path        string `json:"path"`
	ContentType string `json:"content_type"`
	Text        string `json:"text"`
	Truncated   bool   `json:"truncated,omitempty"`
}

func (s *Server) entry(ctx context.Context, id string) (entryData, error) {
	rec, err := s.o.Quarantine.Get(ctx, id)
	if err != nil {
		return entryData{}, err
	}
	d := entryData{Record: rec}
	d.ReleaseStale = rec.State == quarantine.Releasing && rec.Release != nil && time.Now().After(rec.Release.Lease)
	data, _, err := s.o.Quarantine.Message(ctx, id)
	if err != nil {
		d.Problem = err.Error()
		return d, nil
	}
	header, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	d.Headers = clip(header)
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		dec := mime.WordDecoder{CharsetReader: message.CharsetReader}
		if subj, err := dec.DecodeHeader(m.Header.Get("Subject")); err == nil {
			d.Subject = subj
		} else {
			d.Subject = m.Header.Get("Subject")
		}
	}
	parts, walkFindings, err := mimewalk.Parts(ctx, bytes.NewReader(data), int64(len(data)), s.o.WalkLimits)
	if err != nil {
		d.Problem = "walking the message: " + err.Error()
	}
	d.WalkFindings = walkFindings
	for _, p := range parts {
		v := partView{Part: p}
		for _, f := range rec.Findings {
			path := f.Part
			if f.ArchivePath != "" {
				path += "/" + f.ArchivePath
			}
			if f.Part != "" && path == p.Path {
				v.Matches = append(v.Matches, f)
			}
		}
		d.Parts = append(d.Parts, v)
	}
	// The text parts' content, decoded, as the reviewer needs to read a
	// phishing text or an HTML kit's source.
	mimewalk.Walk(ctx, bytes.NewReader(data), int64(len(data)), s.o.WalkLimits, func(it *mimewalk.Item) error {
		// The header block is shown above, as received.
		if !strings.HasPrefix(it.ContentType, "text/") || it.ContentType == "text/rfc822-headers" || it.ArchivePath != "" || len(d.Texts) >= maxTexts {
			return nil
		}
		n := min(it.Data.Size(), Shown)
		buf := make([]byte, n)
		it.Data.ReadAt(buf, 0)
		d.Texts = append(d.Texts, partText{Path: it.Path, ContentType: it.ContentType, Text: string(buf), Truncated: it.Data.Size() > Shown})
		return nil
	})
	return d, nil
}

// clip is b as text, at most Shown bytes.
func clip(b []byte) string {
	if len(b) > Shown {
		return string(b[:Shown]) + "\n[… cut at 64 KiB]"
	}
	return string(b)
}

func (s *Server) quarantineEntry(w http.ResponseWriter, r *http.Request, u user) {
	d, err := s.entry(r.Context(), r.PathValue("id"))
	if errors.Is(err, quarantine.ErrNotFound) {
		s.fail(w, r, u, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		s.fail(w, r, u, http.StatusInternalServerError, err.Error())
		return
	}
	s.reply(w, r, u, "entry", d)
}

func (s *Server) quarantineAction(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, u user) {
		id := r.PathValue("id")
		res := actionResult{ID: id, Action: action, Back: "/quarantine/" + url.PathEscape(id)}
		var err error
		switch action {
		case "release":
			res.Outcome, err = s.o.Actions.Release(r.Context(), id, operator(u))
		case "delete":
			res.Outcome, err = s.o.Actions.Delete(r.Context(), id, operator(u))
		case "resolve":
			state := r.PostFormValue("state")
			if state != quarantine.Released && state != quarantine.Held {
				s.fail(w, r, u, http.StatusBadRequest, "resolve needs state=released or state=held")
				return
			}
			res.Outcome, err = s.o.Actions.Resolve(r.Context(), id, state, operator(u))
		}
		s.answerAction(w, r, u, res, err)
	}
}

type accountsData struct {
	Accounts []limits.AccountView `json:"accounts"`
	Filter   string               `json:"filter,omitempty"` // "suspended", "limited" or ""
	// Total match the filter; Accounts has the first ListMax of them.
	Total     int       `json:"total"`
	Truncated bool      `json:"truncated"`
	Now       time.Time `json:"-"`
}

// limited reports whether an account is at one of its rate limits.
func limited(v limits.AccountView) bool {
	at := func(used, limit int) bool { return limit > 0 && used >= limit }
	return at(v.Usage.MessagesHour, v.Limits.MessagesPerHour) || at(v.Usage.MessagesDay, v.Limits.MessagesPerDay) ||
		at(v.Usage.RecipientsHour, v.Limits.RecipientsPerHour) || at(v.Usage.RecipientsDay, v.Limits.RecipientsPerDay)
}

func (s *Server) accountList(w http.ResponseWriter, r *http.Request, u user) {
	filter := r.URL.Query().Get("filter")
	if filter != "" && filter != "suspended" && filter != "limited" {
		s.fail(w, r, u, http.StatusBadRequest, "filter: want suspended or limited")
		return
	}
	now := time.Now()
	keys, err := s.o.Accounts.Accounts(r.Context())
	if err != nil {
		s.fail(w, r, u, http.StatusInternalServerError, "accounts: "+err.Error())
		return
	}
	d := accountsData{Accounts: []limits.AccountView{}, Filter: filter, Now: now}
	for _, k := range keys {
		v, err := limits.View(r.Context(), s.o.Accounts, s.o.Policy, k, now, false)
		if err != nil {
			s.fail(w, r, u, http.StatusInternalServerError, "accounts: "+err.Error())
			return
		}
		if filter == "suspended" && !v.Suspension.Active(now) || filter == "limited" && !limited(v) {
			continue
		}
		d.Accounts = append(d.Accounts, v)
	}
	// Suspended first, then the busiest.
	sort.SliceStable(d.Accounts, func(i, j int) bool {
		a, b := d.Accounts[i], d.Accounts[j]
		if sa, sb := a.Suspension.Active(now), b.Suspension.Active(now); sa != sb {
			return sa
		}
		return a.Usage.MessagesHour > b.Usage.MessagesHour
	})
	d.Total = len(d.Accounts)
	if d.Total > ListMax {
		d.Accounts, d.Truncated = d.Accounts[:ListMax], true
	}
	s.reply(w, r, u, "accounts", d)
}

// maxReason bounds a suspension's reason.
const maxReason = 1000

// maxAccount bounds an account in a path: a SASL login or ip:ADDRESS.
const maxAccount = 320

// accountKey is the account in the request's path as milterd keys it;
// false (and a 400 answered) for one that no login is: too long, or with
// a control character, a bidirectional override or invalid UTF-8, which
// would otherwise reach the stores, the audit trail and the alerts.
func (s *Server) accountKey(w http.ResponseWriter, r *http.Request, u user) (string, bool) {
	k := r.PathValue("account")
	if k == "" || len(k) > maxAccount || line(k) != k {
		s.fail(w, r, u, http.StatusBadRequest, "not an account: "+truncateRunes(line(k), 80))
		return "", false
	}
	if strings.HasPrefix(k, "ip:") {
		return k, true
	}
	return s.o.Login(k), true
}

// accountData is an account's page: as `milterctl accounts show`, with
// its mail in this host's queue.
type accountData struct {
	limits.AccountView
	Queued     []containment.Message `json:"queued,omitempty"`
	QueueError string                `json:"queue_error,omitempty"`
	HasQueue   bool                  `json:"-"` // limits.mta is configured
	// Trail is the account's audit trail of the last 30 days (milterctl
	// accounts audit): suspensions, by milterd or whom, and queue actions.
	Trail []limits.AuditEvent `json:"audit"`
	Now   time.Time           `json:"-"`
}

// Held counts the messages held in the queue: the ones release-queued and
// delete-queued act on.
func (d accountData) Held() int { return containment.Held(d.Queued) }

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, u user) {
	now := time.Now()
	key, ok := s.accountKey(w, r, u)
	if !ok {
		return
	}
	v, err := limits.View(r.Context(), s.o.Accounts, s.o.Policy, key, now, true)
	if err != nil {
		s.fail(w, r, u, http.StatusInternalServerError, "accounts: "+err.Error())
		return
	}
	d := accountData{AccountView: v, HasQueue: s.o.Queue != nil, Now: now}
	if d.Trail, err = s.o.Accounts.AuditTrail(r.Context(), v.Account, now.Add(-30*24*time.Hour)); err != nil {
		s.fail(w, r, u, http.StatusInternalServerError, "audit trail: "+err.Error())
		return
	}
	if s.o.Queue != nil {
		// The queue is this host's: a fleet's other hosts show theirs.
		if d.Queued, err = s.o.Queue.Messages(r.Context(), v.Account); err != nil {
			d.QueueError = err.Error()
		}
	}
	s.reply(w, r, u, "account", d)
}

func (s *Server) accountAction(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, u user) {
		key, ok := s.accountKey(w, r, u)
		if !ok {
			return
		}
		res := actionResult{Account: key, Action: action, Back: "/accounts/" + url.PathEscape(key)}
		var err error
		switch action {
		case "suspend":
			reason := strings.TrimSpace(r.PostFormValue("reason"))
			if reason == "" || len(reason) > maxReason || line(reason) != reason {
				// One line of text: it goes into the audit trails, the
				// SMTP reply's log and the abuse desk's alerts as is.
				s.fail(w, r, u, http.StatusBadRequest, fmt.Sprintf("suspend needs a reason: one line of text, up to %d bytes", maxReason))
				return
			}
			res.Outcome, err = s.o.Actions.Suspend(r.Context(), key, reason, operator(u))
		case "unsuspend":
			queued := r.PostFormValue("queued")
			if queued != "" && queued != "release" && queued != "delete" {
				s.fail(w, r, u, http.StatusBadRequest, "queued: want release or delete")
				return
			}
			res.Outcome, err = s.o.Actions.Unsuspend(r.Context(), key, queued, operator(u))
		case "reset":
			res.Outcome, err = s.o.Actions.Reset(r.Context(), key, operator(u))
		}
		s.answerAction(w, r, u, res, err)
	}
}

type auditData struct {
	Since string `json:"since"`
	ID    string `json:"id,omitempty"` // an entry or an account
	// Entries are the quarantine's audit trail: every release, delete and
	// resolve, and the account actions of the console and milterctl.
	Entries []quarantine.AuditEntry `json:"entries"` // newest first
	// Accounts is the accounts' audit trail (milterctl accounts audit):
	// suspensions by milterd or an operator, escalations, queue actions.
	Accounts []limits.AuditEvent `json:"accounts"` // newest first
}

// newestFirst reverses a trail (oldest first) and keeps ListMax of it.
func newestFirst[T any](trail []T) []T {
	out := make([]T, 0, min(len(trail), ListMax))
	for i := len(trail) - 1; i >= 0 && len(out) < ListMax; i-- {
		out = append(out, trail[i])
	}
	return out
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, u user) {
	d := auditData{Since: r.URL.Query().Get("since"), ID: r.URL.Query().Get("id"), Entries: []quarantine.AuditEntry{}, Accounts: []limits.AuditEvent{}}
	if d.Since == "" {
		d.Since = "7d"
	}
	since, err := parseSince(d.Since, time.Now())
	if err != nil {
		s.fail(w, r, u, http.StatusBadRequest, err.Error())
		return
	}
	if s.o.Quarantine != nil {
		entries, err := s.o.Quarantine.AuditLog(r.Context(), since, d.ID)
		if err != nil {
			s.fail(w, r, u, http.StatusInternalServerError, "audit trail: "+err.Error())
			return
		}
		d.Entries = newestFirst(entries)
	}
	if s.o.Accounts != nil {
		evs, err := s.o.Accounts.AuditTrail(r.Context(), d.ID, since)
		if err != nil {
			s.fail(w, r, u, http.StatusInternalServerError, "accounts' audit trail: "+err.Error())
			return
		}
		d.Accounts = newestFirst(evs)
	}
	s.reply(w, r, u, "audit", d)
}

type relayprobeData struct {
	Scan    *probe.Scan `json:"scan"` // the latest; nil before the first
	Diff    probe.Diff  `json:"diff"` // against what the scans before it knew
	Problem string      `json:"problem,omitempty"`
}

func (s *Server) relayprobePage(w http.ResponseWriter, r *http.Request, u user) {
	var d relayprobeData
	var err error
	if d.Scan, d.Diff, err = probe.LastDiff(s.o.RelayprobeDir, s.o.Log); err != nil {
		d.Problem = err.Error()
	}
	s.reply(w, r, u, "relayprobe", d)
}

// inert makes text from a message safe to look at: control characters
// (ESC, CR, NUL, …), DEL, the C1 controls, bidirectional overrides and
// invalid UTF-8 come out as visible escapes (\x1b, \u202e); newline and
// tab stay where the layout is a <pre>. html/template escapes the rest.
func inert(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// line is inert text on one line: newlines and tabs escaped too, so that
// a file name cannot fake rows.
func line(s string) string {
	return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(inert(s))
}

// headerText shows a header block as received: CRLF line ends as newlines,
// everything else inert.
func headerText(s string) string {
	return inert(strings.ReplaceAll(s, "\r\n", "\n"))
}

type page struct {
	User  user
	Role  string
	CSRF  string
	Title string
	Nav   []navItem
	Data  any
	// Session: signed in with the form (Basic and proxy users have
	// nothing to sign out of).
	Session bool
}

// Can reports whether the page's user may review (release, delete,
// resolve) or admin (account actions): the page offers only those forms.
func (p page) Can(action string) bool {
	need := map[string]Role{"review": Reviewer, "admin": Admin}[action]
	return need != 0 && p.User.Role >= need
}

// navItem is a page of the navigation: a section's list page.
type navItem struct{ Path, Title string }

var funcs = template.FuncMap{
	"inert":    inert,
	"list":     func(s ...string) []string { return s },
	"line":     line,
	"headers":  headerText,
	"esc":      url.PathEscape,
	"when":     func(t time.Time) string { return t.Local().Format(time.DateTime) },
	"join":     func(ss []string) string { return line(strings.Join(ss, ", ")) },
	"active":   func(sp *limits.Suspension, now time.Time) bool { return sp.Active(now) },
	"of":       of,
	"finding":  func(f quarantine.Finding) string { return line(f.Summary()) },
	"limited":  limited,
	"kib":      func(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) },
	"indent":   func(p string) int { return strings.Count(p, ".") + strings.Count(p, "/") },
	"truncate": truncateRunes,
}

// truncateRunes cuts s to n characters, marking the cut.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func of(used, limit int) string {
	if limit == 0 {
		return fmt.Sprintf("%d/-", used)
	}
	return fmt.Sprintf("%d/%d", used, limit)
}

// parseTemplates parses each page's template (templates/NAME.html) with
// the layout, and takes each page's title from its "title" block.
func (s *Server) parseTemplates() error {
	s.tmpl, s.titles = map[string]*template.Template{}, map[string]string{}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", f)
		if err != nil {
			return err
		}
		var title strings.Builder
		if err := t.ExecuteTemplate(&title, "title", nil); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		s.tmpl[name], s.titles[name] = t, title.String()
	}
	return nil
}

func (s *Server) render(w io.Writer, r *http.Request, u user, name string, data any) {
	p := page{User: u, Role: u.Role.String(), Title: s.titles[name], Data: data, Nav: s.nav}
	if u.Name != "" {
		p.CSRF, p.Session = s.csrfToken(u), u.via == "session"
	}
	if err := s.tmpl[name].Execute(w, p); err != nil {
		s.o.Log.Error("web: template", "page", name, "err", err)
	}
}
