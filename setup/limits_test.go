package setup

import (
	"testing"

	"outguard/config"
	"outguard/limits"
)

// Every limit in limits.Kinds is read from the config by its key, defaults
// from its line, and is lifted by "unlimited" exactly when it is a rate.
func TestEveryLimitFromItsKey(t *testing.T) {
	for _, k := range limits.Kinds {
		cfg, err := config.Parse("t.yaml", []byte("limits:\n  users:\n    bob: {"+k.Key+": 7}\n    carol: unlimited\n"))
		if err != nil {
			t.Fatal(err)
		}
		pol, err := LimitsPolicy(cfg.Limits)
		if err != nil {
			t.Fatal(err)
		}
		def, bob, carol := pol.For("alice"), pol.For("bob"), pol.For("carol")
		if got := *k.Field(&def); got != k.Default {
			t.Errorf("%s: default %d, want %d", k.Key, got, k.Default)
		}
		if got := *k.Field(&bob); got != 7 {
			t.Errorf("%s: bob's %d, want 7", k.Key, got)
		}
		if got, want := *k.Field(&carol), map[bool]int{true: 0, false: k.Default}[k.Rate]; got != want {
			t.Errorf("%s: unlimited carol's %d, want %d", k.Key, got, want)
		}
	}
	if _, err := config.Parse("t.yaml", []byte("limits:\n  default: {messages_per_week: 5}\n")); err == nil {
		t.Error("a key that is no limit was accepted")
	}
}
