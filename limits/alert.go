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

// Alerter tells people that an account was suspended: a command that gets
// the suspension as JSON on stdin (never as arguments: no shell
// interpolation of customer data), and/or a JSON POST to a webhook. Alerts
// run in the background and never hold up mail.
type Alerter struct {
	Command []string // argv; empty: none
	Webhook string   // URL; empty: none
	Timeout time.Duration
	Log     *slog.Logger
}

// Fire sends the alerts for s. Safe on a nil Alerter.
func (a *Alerter) Fire(s Suspension) {
	if a == nil || len(a.Command) == 0 && a.Webhook == "" {
		return
	}
	body, _ := json.Marshal(s)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.Timeout)
		defer cancel()
		if err := a.send(ctx, body); err != nil {
			a.Log.Error("suspension alert failed", "account", s.Key, "err", err)
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
