package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"outguard/limits"
	"outguard/quarantine"
)

// handler serves an authenticated request.
type handler func(w http.ResponseWriter, r *http.Request, u user)

// routes serves the console's pages and its API.
//
// Adding a section (campaigns, complaints, …) takes one template and one
// handler: write templates/NAME.html (a "title" block and a "content"
// block, which renders .Data), a handler that answers with
// s.reply(w, r, u, "NAME", data), and one section("NAME", handler) line
// below. That serves the page at GET /NAME and its data as JSON at GET
// /api/NAME, to every signed-in user, and puts it in the navigation under
// its title. A section's other pages (one entry, its actions) are page()
// and change() lines; a state change is change(), which checks the role,
// the origin and the CSRF token (TestEveryChangeNeedsCSRF fails for a POST
// route registered any other way).
func (s *Server) routes() {
	m := &routeMux{ServeMux: http.NewServeMux()}
	s.nav = nil
	m.Handle("GET /static/", s.staticHandler())
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if len(s.nav) == 0 {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, s.nav[0].Path, http.StatusSeeOther)
	})
	page := func(pattern string, need Role, h handler) { m.HandleFunc(pattern, s.guard(need, false, h)) }
	change := func(pattern string, need Role, h handler) { m.HandleFunc(pattern, s.guard(need, true, h)) }
	section := func(name string, h handler) {
		if s.tmpl[name] == nil { // a programming error: every test finds it
			panic("web: section " + name + " has no templates/" + name + ".html")
		}
		page("GET /"+name, Viewer, h)
		page("GET /api/"+name, Viewer, h)
		s.nav = append(s.nav, navItem{Path: "/" + name, Title: s.titles[name]})
	}
	change("POST /logout", Viewer, s.logout)
	if s.o.Quarantine != nil {
		section("quarantine", s.quarantineList)
		page("GET /quarantine/{id}", Viewer, s.quarantineEntry)
		page("GET /api/quarantine/{id}", Viewer, s.quarantineEntry)
		for _, prefix := range []string{"", "/api"} {
			change("POST "+prefix+"/quarantine/{id}/release", Reviewer, s.quarantineAction("release"))
			change("POST "+prefix+"/quarantine/{id}/delete", Reviewer, s.quarantineAction("delete"))
			change("POST "+prefix+"/quarantine/{id}/resolve", Reviewer, s.quarantineAction("resolve"))
		}
	}
	if s.o.Accounts != nil {
		section("accounts", s.accountList)
		page("GET /accounts/{account}", Viewer, s.accountPage)
		page("GET /api/accounts/{account}", Viewer, s.accountPage)
		for _, prefix := range []string{"", "/api"} {
			change("POST "+prefix+"/accounts/{account}/suspend", Admin, s.accountAction("suspend"))
			change("POST "+prefix+"/accounts/{account}/unsuspend", Admin, s.accountAction("unsuspend"))
			change("POST "+prefix+"/accounts/{account}/reset", Admin, s.accountAction("reset"))
		}
	}
	if s.campaigns() != nil {
		section("campaigns", s.campaignList)
		page("GET /campaigns/{id}", Viewer, s.campaignPage)
		page("GET /api/campaigns/{id}", Viewer, s.campaignPage)
		for _, prefix := range []string{"", "/api"} {
			change("POST "+prefix+"/campaigns/{id}/spare", Admin, s.campaignAction("spare"))
			change("POST "+prefix+"/campaigns/{id}/unspare", Admin, s.campaignAction("unspare"))
		}
	}
	if s.o.Accounts != nil {
		section("complaints", s.complaintsPage) // kept in the limits store
	}
	if s.o.Quarantine != nil || s.o.Accounts != nil {
		section("audit", s.auditPage)
	}
	if s.o.RelayprobeDir != "" {
		section("relayprobe", s.relayprobePage)
	}
	s.mux, s.patterns = m.ServeMux, m.patterns
}

// routeMux is a ServeMux that keeps the patterns it serves: the test of
// the guards (TestEveryChangeNeedsCSRF) tries every POST among them, so a
// state change registered without change() fails it.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// maxForm bounds a request body: forms carry a token and a reason.
const maxForm = 64 << 10

// guard authenticates the request, checks the role, and for a state
// change the request's origin and CSRF token.
func (s *Server) guard(need Role, change bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		api := isAPI(r)
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		u, err := s.authenticate(r)
		switch {
		case errors.Is(err, errRateLimited):
			w.Header().Set("Retry-After", "60")
			s.fail(w, r, u, http.StatusTooManyRequests, err.Error())
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Basic realm="outguard", charset="UTF-8"`)
			if !api {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				s.render(w, r, user{}, "login", loginData{Next: r.URL.RequestURI(), Error: loginError(err)})
				return
			}
			s.fail(w, r, u, http.StatusUnauthorized, err.Error())
			return
		}
		if u.Role < need {
			s.fail(w, r, u, http.StatusForbidden, need.String()+" role needed; "+u.Name+" is "+u.Role.String())
			return
		}
		if change && !s.checkChange(r, u, api) {
			s.o.Log.Warn("web: state change refused: cross-site or without a valid CSRF token", "user", u.Name, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
			s.fail(w, r, u, http.StatusForbidden, "refused: cross-site request or missing CSRF token")
			return
		}
		if change {
			// A state change, once begun, finishes and is audited even if
			// the client goes away (a closed tab, a script's timeout): a
			// release cut off mid-delivery would be half done and missing
			// from the audit trail. It is bounded by a release's lease.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), quarantine.ReleaseLease)
			defer cancel()
			r = r.WithContext(ctx)
		}
		h(w, r, u)
	}
}

func loginError(err error) string {
	if errors.Is(err, errNoCredentials) {
		return ""
	}
	return err.Error()
}

// fail answers an error: JSON for the API, a page otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, u user, code int, msg string) {
	if isAPI(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.render(w, r, u, "error", errorData{Code: code, Status: http.StatusText(code), Message: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// reply answers a successful read: data as JSON for the API, or the page.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, u user, page string, data any) {
	if isAPI(r) {
		writeJSON(w, http.StatusOK, data)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	s.render(w, r, u, page, data)
}

type loginData struct {
	Next, Error string
}

type errorData struct {
	Code            int
	Status, Message string
}

// safeNext keeps a post-login redirect on this console: a local path,
// never //host or a scheme; "/" (the first section) otherwise.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	s.render(w, r, user{}, "login", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the form's name and password and opens a session. The
// login form itself needs no CSRF token (there is no session yet), but a
// cross-site post is refused, so that no other site logs a browser in.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := safeNext(r.PostFormValue("next"))
	if crossSite(r) {
		s.fail(w, r, user{}, http.StatusForbidden, "refused: cross-site request")
		return
	}
	name := r.PostFormValue("user")
	_, err := s.password(r, name, r.PostFormValue("password"))
	if err != nil {
		code := http.StatusUnauthorized
		if errors.Is(err, errRateLimited) {
			code = http.StatusTooManyRequests
			w.Header().Set("Retry-After", "60")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		s.render(w, r, user{}, "login", loginData{Next: next, Error: err.Error()})
		return
	}
	a, _, _ := s.users.lookup(name)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.newSession(name, string(a.hash)), Path: "/", HttpOnly: true,
		Secure: s.o.TLS, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionMaxAge / time.Second)})
	s.o.Log.Info("web: login", "user", name, "client", clientAddr(r).String())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, u user) {
	s.mu.Lock()
	delete(s.sessions, u.sid)
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: s.o.TLS, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// actionResult is the answer to an action.
type actionResult struct {
	ID      string `json:"id,omitempty"`
	Account string `json:"account,omitempty"`
	Action  string `json:"action"`
	OK      bool   `json:"ok"`
	Outcome string `json:"outcome"`
	// Lines: an action on many accounts, one line each (a spare).
	Lines []string `json:"lines,omitempty"`
	Back  string   `json:"-"` // the page to go back to
}

// actionStatus is the HTTP status of an action's error.
func actionStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, quarantine.ErrNotFound), errors.Is(err, limits.ErrNoCampaign):
		return http.StatusNotFound
	}
	return http.StatusConflict
}

func (s *Server) answerAction(w http.ResponseWriter, r *http.Request, u user, res actionResult, err error) {
	res.OK = err == nil
	if err != nil && res.Outcome == "" {
		res.Outcome = err.Error()
	}
	s.o.Log.Info("web: action", "user", u.Name, "action", res.Action, "id", res.ID, "account", res.Account, "outcome", res.Outcome)
	if isAPI(r) {
		writeJSON(w, actionStatus(err), res)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(actionStatus(err))
	s.render(w, r, u, "result", res)
}
