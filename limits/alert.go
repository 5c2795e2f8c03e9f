package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"time"
)

// Alert is what the abuse desk is told, as JSON: an account suspended
// (event "suspended", with the suspension and its evidence), or an account
// that reached a sending limit (event "limit", once per account, limit and
// window, with its usage).
type Alert struct {
	Event      string      `json:"event"`
	Account    string      `json:"account"`
	Suspension *Suspension `json:"suspension,omitempty"`
	Limit      int         `json:"limit,omitempty"`
	What       string      `json:"what,omitempty"` // "messages per hour", …
	Until      time.Time   `json:"until,omitzero"` // when the limit frees up
	Usage      *Usage      `json:"usage,omitempty"`
}

// Alerter tells people about an Alert: a command that gets it as JSON on
// stdin (never as arguments: no shell interpolation of customer data),
// and/or a JSON POST to a webhook. Alerts run in the background and never
// hold up mail.
type Alerter struct {
	Command []string // argv; empty: none
	Webhook string   // URL; empty: none
	Timeout time.Duration
	Log     *slog.Logger
}

// Fire sends al. Safe on a nil Alerter.
func (a *Alerter) Fire(al Alert) {
	if a == nil || len(a.Command) == 0 && a.Webhook == "" {
		return
	}
	body, _ := json.Marshal(al)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.Timeout)
		defer cancel()
		if err := a.send(ctx, body); err != nil {
			a.Log.Error("alert failed", "event", al.Event, "account", al.Account, "err", err)
		}
	}()
}

func (a *Alerter) send(ctx context.Context, body []byte) error {
	if len(a.Command) > 0 {
		cmd := exec.CommandContext(ctx, a.Command[0], a.Command[1:]...)
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("alert command: %v: %s", err, out)
		}
	}
	if a.Webhook != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Webhook, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("alert webhook: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("alert webhook: %s", resp.Status)
		}
	}
	return nil
}
