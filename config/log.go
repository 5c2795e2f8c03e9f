package config

import (
	"fmt"
	"io"
	"log/slog"
)

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
	}
	return l, nil
}

// Logger builds the logger the config asks for, writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level, _ := ParseLevel(c.Log.Level) // validated at load
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
