package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
)

// maxPendingAlerts bounds the alerts kept while the channel is down: a
// channel down for months keeps the newest, and fills no disk.
const maxPendingAlerts = 1000

func pendingAlertsFile(dir string) string { return filepath.Join(dir, "alerts-pending.jsonl") }

// tell delivers body (nil: nothing new to tell) through the alert
// channel, after the alerts it did not take on earlier runs, in order;
// what it does not take now is kept in state_dir for the next run of any
// command. A block, a fix or a listing is told once, when it happens:
// an alert lost to a channel that was down would never be told again, and
// the customer and the abuse desk would not hear of it.
func tell(ctx context.Context, cfg *Config, body []byte, log *slog.Logger) {
	s := cfg.Alert.Sender()
	if !s.Enabled() {
		return
	}
	unlock, err := lock(ctx, cfg.StateDir, "alerts.lock")
	if err != nil {
		log.Error("alert not sent", "err", err)
		return
	}
	defer unlock()
	name := pendingAlertsFile(cfg.StateDir)
	var pending [][]byte
	b, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Error("alerts kept from earlier runs unreadable", "file", name, "err", err)
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		switch {
		case len(l) == 0:
		case json.Valid(l):
			pending = append(pending, l)
		default:
			log.Error("damaged alert kept from an earlier run dropped", "file", name, "line", string(l))
		}
	}
	kept := len(pending)
	if body != nil {
		pending = append(pending, body)
	}
	sent := 0
	for _, p := range pending {
		if err := s.Send(ctx, p); err != nil {
			log.Error("alert failed: kept for the next run", "err", err, "pending", len(pending)-sent)
			break
		}
		sent++
	}
	rest := pending[sent:]
	if n := len(rest) - maxPendingAlerts; n > 0 {
		log.Error("alert channel down too long: the oldest alerts dropped", "dropped", n)
		rest = rest[n:]
	}
	switch {
	case len(rest) == 0 && kept > 0:
		if err := os.Remove(name); err != nil {
			log.Error("alerts sent but still kept: they will be sent again", "file", name, "err", err)
		}
	case len(rest) > 0:
		if err := writeAtomic(name, append(bytes.Join(rest, []byte("\n")), '\n'), 0o640); err != nil {
			log.Error("alerts not kept", "file", name, "err", err)
		}
	}
}
