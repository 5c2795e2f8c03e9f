package web

import (
	"net/http"
	"net/url"
	"time"

	"outguard/limits"
)

// campaigns is the accounts store's campaigns across accounts; nil when
// it keeps none.
func (s *Server) campaigns() limits.CampaignStore {
	cs, _ := s.o.Accounts.(limits.CampaignStore)
	return cs
}

type campaignsData struct {
	Since     time.Time         `json:"since"`
	Campaigns []limits.Campaign `json:"campaigns"` // newest first
}

// campaignList lists the campaigns of the last 7 days (the evidence's
// retention), as milterctl campaigns list.
func (s *Server) campaignList(w http.ResponseWriter, r *http.Request, u user) {
	d := campaignsData{Since: time.Now().Add(-7 * 24 * time.Hour), Campaigns: []limits.Campaign{}}
	list, err := s.campaigns().Campaigns(r.Context(), d.Since, ListMax)
	if err != nil {
		s.fail(w, r, u, http.StatusInternalServerError, "campaigns: "+err.Error())
		return
	}
	d.Campaigns = append(d.Campaigns, list...)
	s.reply(w, r, u, "campaigns", d)
}

// campaignPage is one campaign with the accounts that sent it.
func (s *Server) campaignPage(w http.ResponseWriter, r *http.Request, u user) {
	c, err := s.campaigns().CampaignByID(r.Context(), r.PathValue("id"))
	switch {
	case err != nil:
		s.fail(w, r, u, http.StatusInternalServerError, "campaigns: "+err.Error())
	case c == nil:
		s.fail(w, r, u, http.StatusNotFound, "no such campaign")
	default:
		s.reply(w, r, u, "campaign", c)
	}
}

// campaignAction spares a campaign or ends its spare (milterctl
// campaigns spare, unspare). A spare leaves the lifted accounts' held
// mail on this host held (queued: release or delete, as unsuspend's).
func (s *Server) campaignAction(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, u user) {
		id := r.PathValue("id")
		res := actionResult{ID: id, Action: action, Back: "/campaigns/" + url.PathEscape(id)}
		var err error
		switch action {
		case "spare":
			queued := r.PostFormValue("queued")
			if queued != "" && queued != "release" && queued != "delete" {
				s.fail(w, r, u, http.StatusBadRequest, "queued: want release or delete")
				return
			}
			var lines []string
			if lines, err = s.o.Actions.SpareCampaign(r.Context(), []string{id}, queued, operator(u)); len(lines) > 0 {
				res.Outcome, res.Lines = lines[0], lines[1:]
			}
		case "unspare":
			res.Outcome, err = s.o.Actions.UnspareCampaign(r.Context(), id, operator(u))
		}
		s.answerAction(w, r, u, res, err)
	}
}
