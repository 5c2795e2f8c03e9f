package web

import (
	"net/http"
	"time"

	"outguard/limits"
)

type complaintsData struct {
	Complaints []limits.Complaint `json:"complaints"`
	Matched    int                `json:"matched"` // before ListMax
	Since      string             `json:"-"`
	Account    string             `json:"-"`
	Unattr     bool               `json:"-"`
}

// complaintsPage lists receivers' complaints, newest first: attributed
// ones with their account and queue id, unattributable ones with why and
// the start of the report (as text: a report is a message from outside).
func (s *Server) complaintsPage(w http.ResponseWriter, r *http.Request, u user) {
	q := r.URL.Query()
	d := complaintsData{Since: q.Get("since"), Account: q.Get("account"), Unattr: q.Get("unattributable") != ""}
	if d.Since == "" {
		d.Since = "7d"
	}
	since, err := parseSince(d.Since, time.Now())
	if err != nil {
		s.fail(w, r, u, http.StatusBadRequest, err.Error())
		return
	}
	key := ""
	if d.Account != "" {
		key = s.o.Login(d.Account)
	}
	all, err := s.o.Accounts.Complaints(r.Context(), key, since)
	if err != nil {
		s.fail(w, r, u, http.StatusInternalServerError, "complaints: "+err.Error())
		return
	}
	d.Complaints = []limits.Complaint{}
	for i := len(all) - 1; i >= 0; i-- {
		if d.Unattr && all[i].Account != "" {
			continue
		}
		if d.Matched++; len(d.Complaints) < ListMax {
			d.Complaints = append(d.Complaints, all[i])
		}
	}
	s.reply(w, r, u, "complaints", d)
}
