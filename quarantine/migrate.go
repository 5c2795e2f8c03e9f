package quarantine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Migrated is what Migrate did with one entry.
type Migrated struct {
	ID      string
	Outcome string // "copied", "already there", or why it failed
	Err     error
}

// Migrate copies every entry of src (a host's local quarantine) into dst
// (the shared store), keeping ids, records, findings and states; a held
// message is copied with its bytes, checked against its record. An entry
// and its message are one transaction in dst, and an entry already in dst
// is left alone, so an interrupted migration is finished by running it
// again. src is not changed. Each entry copied is audited in dst as
// operator's "migrate".
func Migrate(ctx context.Context, src, dst *Store, operator string, each func(Migrated)) (copied int, err error) {
	recs, err := src.List(ctx, Filter{})
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", "the local quarantine", err)
	}
	var failed int
	for i := len(recs) - 1; i >= 0; i-- { // oldest first
		m := migrateOne(ctx, src, dst, recs[i])
		if m.Err != nil {
			failed++
		} else if m.Outcome == "copied" {
			copied++
			if err := dst.Audit(ctx, operator, "migrate", m.ID, "copied from the local quarantine of "+src.Host); err != nil {
				m.Err, m.Outcome = err, "copied, not audited: "+err.Error()
				failed++
			}
		}
		if each != nil {
			each(m)
		}
	}
	if failed > 0 {
		return copied, fmt.Errorf("%d of %d entries not migrated: run it again once the cause is fixed (entries already copied are skipped)", failed, len(recs))
	}
	return copied, nil
}

func migrateOne(ctx context.Context, src, dst *Store, rec Record) Migrated {
	m := Migrated{ID: rec.ID, Outcome: "copied"}
	fail := func(err error) Migrated {
		m.Err, m.Outcome = err, "failed: "+err.Error()
		return m
	}
	if _, err := dst.Get(ctx, rec.ID); err == nil {
		m.Outcome = "already there"
		return m
	} else if !errors.Is(err, ErrNotFound) {
		return fail(err)
	}
	if rec.Host == "" {
		rec.Host = src.Host
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	var msg io.Reader // nil: a deleted entry, whose message is gone
	if rec.State != Deleted {
		r, err := src.body.open(ctx, rec.ID)
		if err != nil {
			return fail(fmt.Errorf("message: %w", err))
		}
		defer r.Close()
		msg = r
	}
	if err := dst.insert(ctx, rec, msg, 0, 0); err != nil { // copied whatever the quota: it held them already
		return fail(err)
	}
	return m
}
