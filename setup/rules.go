package setup

import (
	"fmt"
	"log/slog"
	"time"

	"outguard/config"
	"outguard/mimewalk"
	"outguard/policy"
	"outguard/rules"
)

// RulesEngine compiles cfg's YARA rules into an engine with cfg's limits
// and actions: milterd and `milterctl rules test` scan alike.
func RulesEngine(cfg *config.Config, log *slog.Logger) (*rules.Engine, error) {
	r := cfg.Rules
	set, err := rules.Compile(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	for _, w := range set.Warnings {
		log.Warn("rules: " + w)
	}
	eng := rules.NewEngine(set)
	eng.Timeout = time.Duration(r.Timeout)
	eng.OnLimit, eng.OnMalformed = policy.Action(r.OnLimit), policy.Action(r.OnMalformed)
	eng.OnUncheckedRisky = policy.Action(r.OnUncheckedRisky)
	eng.Log = log
	eng.Limits = WalkLimits(cfg)
	return eng, nil
}

// WalkLimits are the limits of the MIME walk cfg gives (the defaults
// without a rules section): the scan and the quarantine review walk alike.
func WalkLimits(cfg *config.Config) mimewalk.Limits {
	r := config.RulesOrDefault(cfg.Rules)
	return mimewalk.Limits{
		MaxDepth: r.MaxDepth, MaxMembers: r.MaxMembers, MaxTotal: int64(r.MaxTotal), MaxRatio: int64(r.MaxRatio),
		MaxPart: int64(r.MaxPart), MemoryLimit: int64(cfg.Spool.MemoryLimit), SpoolDir: cfg.Spool.Dir,
	}
}
