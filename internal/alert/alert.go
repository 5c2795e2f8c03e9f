// Package alert tells people about an event, as JSON: a command that gets
// it on stdin (never as arguments: no shell interpolation of customer data)
// and/or a POST to a webhook. milterd's limits and relayprobe share it.
package alert

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"time"
)

// Sender delivers events. The zero Sender delivers nothing.
type Sender struct {
	Command []string // argv; empty: none
	Webhook string   // URL; empty: none
	Timeout time.Duration
}

// Enabled reports whether the sender delivers anywhere.
func (s *Sender) Enabled() bool { return s != nil && (len(s.Command) > 0 || s.Webhook != "") }

// Send delivers body (JSON) to the command and the webhook, within Timeout.
func (s *Sender) Send(ctx context.Context, body []byte) error {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	if len(s.Command) > 0 {
		cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("alert command: %v: %s", err, out)
		}
	}
	if s.Webhook != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Webhook, bytes.NewReader(body))
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
