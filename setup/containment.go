package setup

import (
	"log/slog"

	"outguard/config"
	"outguard/containment"
	"outguard/limits"
)

// Containment builds the queue's follower of suspensions on store (nil
// without a limits section or an MTA). With on_suspend_queued: keep it still
// settles held mail for milterctl, and Run does nothing.
func Containment(cfg *config.Config, store limits.Store, log *slog.Logger) *containment.Containment {
	l := cfg.Limits
	if l == nil {
		return nil
	}
	var q containment.Queue
	switch l.MTA.Kind {
	case "postfix":
		q = &containment.Postfix{ConfigDir: l.MTA.ConfigDir}
	case "sendmail":
		q = &containment.Sendmail{Config: l.MTA.Config}
	default:
		return nil // no mta: on_suspend_queued: keep (validated)
	}
	return containment.New(containment.Options{
		Store: store, Host: cfg.HostName(), Action: l.OnSuspendQueued, Log: log,
		Alert: Alerter(cfg, store, log), Queue: q,
	})
}
