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

// A block, a fix or a listing is told once, when it happens: an alert lost
// to a channel that was down, or to a run killed while it was on the way,
// would never be told, and the customer and the abuse desk would not hear
// of it. So each alert is kept in state_dir (keepAlert) before the state
// that makes it told is written, and removed once the channel took it
// (tell): delivered at least once, in order, by the next run of any
// command if not by this one.

// keepAlert adds body to the alerts to deliver; an error means it could
// not be kept (the caller writes no state that would make it told).
func keepAlert(ctx context.Context, cfg *Config, body []byte) error {
	if s := cfg.Alert.Sender(); !s.Enabled() || body == nil {
		return nil
	}
	unlock, err := lock(ctx, cfg.StateDir, "alerts.lock")
	if err != nil {
		return err
	}
	defer unlock()
	pending, err := readPendingAlerts(cfg.StateDir)
	if err != nil {
		return err
	}
	return writePendingAlerts(cfg.StateDir, append(pending, body))
}

// tell delivers the kept alerts through the alert channel, in order, and
// keeps those it did not take.
func tell(ctx context.Context, cfg *Config, log *slog.Logger) {
	s := cfg.Alert.Sender()
	if !s.Enabled() {
		return
	}
	unlock, err := lock(ctx, cfg.StateDir, "alerts.lock")
	if err != nil {
		log.Error("alerts not sent", "err", err)
		return
	}
	defer unlock()
	pending, err := readPendingAlerts(cfg.StateDir)
	if err != nil {
		log.Error("alerts not sent", "err", err)
		return
	}
	sent := 0
	for _, p := range pending {
		if err := s.Send(ctx, p); err != nil {
			log.Error("alert failed: kept for the next run", "err", err, "pending", len(pending)-sent)
			break
		}
		sent++
	}
	if sent == 0 {
		return
	}
	if err := writePendingAlerts(cfg.StateDir, pending[sent:]); err != nil {
		log.Error("alerts sent but still kept: they will be sent again", "err", err)
	}
}

// readPendingAlerts reads the kept alerts, a JSON object a line; a damaged
// line (a disk that lost a block) is dropped.
func readPendingAlerts(dir string) ([][]byte, error) {
	b, err := os.ReadFile(pendingAlertsFile(dir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if json.Valid(l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// writePendingAlerts replaces the kept alerts with the newest
// maxPendingAlerts of pending; none removes the file.
func writePendingAlerts(dir string, pending [][]byte) error {
	pending = pending[max(0, len(pending)-maxPendingAlerts):]
	if len(pending) == 0 {
		if err := os.Remove(pendingAlertsFile(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return writeAtomic(pendingAlertsFile(dir), append(bytes.Join(pending, []byte("\n")), '\n'), 0o640)
}
