package setup

import (
	"log/slog"

	"outguard/config"
	"outguard/containment"
	"outguard/limits"
)

// Containment builds the queue's follower of suspensions on store (nil
// without a limits section or a Postfix). With on_suspend_queued: keep it still
// settles held mail for milterctl, and Run does nothing.
func Containment(cfg *config.Config, store limits.Store, log *slog.Logger) *containment.Containment {
	l := cfg.Limits
	if l == nil || l.MTA.Kind != "postfix" {
		return nil // validated: sendmail only with on_suspend_queued: keep
	}
	return containment.New(containment.Options{
		Store: store, Host: cfg.HostName(), Action: l.OnSuspendQueued, Log: log,
		Alert: Alerter(cfg, store, log),
		Queue: &containment.Postfix{ConfigDir: l.MTA.ConfigDir},
	})
}
