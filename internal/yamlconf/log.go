package yamlconf

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

// Log is the log section: format text or json, a level.
type Log struct {
	Format string `yaml:"format"` // text or json
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// New builds the logger l asks for, writing to w.
func (l Log) New(w io.Writer) *slog.Logger {
	level, _ := ParseLevel(l.Level) // validated at load
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Validate checks the log section, reporting through bad (Lines.Errorf).
func (l Log) Validate(bad func(key, format string, args ...any) error) error {
	switch l.Format {
	case "text", "json":
	default:
		return bad("log.format", "unknown format %q (want text or json)", l.Format)
	}
	if _, err := ParseLevel(l.Level); err != nil {
		return bad("log.level", "%v", err)
	}
	return nil
}
