package config

import (
	"io"
	"log/slog"
	"time"

	"gopkg.in/yaml.v3"

	"outguard/internal/yamlconf"
	"outguard/policy"
)

// The value types milterd's schema shares with relayprobe's
// (internal/yamlconf).
type (
	Duration = yamlconf.Duration
	Size     = yamlconf.Size
	FileMode = yamlconf.FileMode
	Prefix   = yamlconf.Prefix
	Address  = yamlconf.Address
	Log      = yamlconf.Log
	Alert    = yamlconf.Alert
)

// ParseDuration parses a duration as the config writes them.
func ParseDuration(s string) (time.Duration, error) { return yamlconf.ParseDuration(s) }

// ParseAddress parses "unix:/abs/path" or "inet:host:port".
func ParseAddress(s string) (Address, error) { return yamlconf.ParseAddress(s) }

// hooks give the decoder this schema's section defaults (setDefaults) and
// one-word forms (unmarshalScalar).
var hooks = yamlconf.Hooks{
	Defaults: func(section any) {
		if d, ok := section.(interface{ setDefaults() }); ok {
			d.setDefaults()
		}
	},
	Scalar: func(v any, word string) (bool, error) {
		if sf, ok := v.(interface{ unmarshalScalar(string) error }); ok {
			return true, sf.unmarshalScalar(word)
		}
		return false, nil
	},
}

// Logger builds the logger the config asks for, writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger { return c.Log.New(w) }

// Action is a policy action name.
type Action policy.Action

func (a *Action) UnmarshalYAML(n *yaml.Node) error {
	v, err := policy.ParseAction(n.Value)
	if err != nil {
		return err
	}
	*a = Action(v)
	return nil
}
