package limits

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// SeedStore keeps the fleet's campaign seed (campaign.SeedSource): the
// secret keying which runs of a text the campaign fingerprint samples.
// It lives in the shared store so that every smarthost of a fleet
// samples alike (copies hashed under different seeds share no key, and a
// run spread over hosts would need that many times the accounts to be
// found) and nobody has a file to remember. SQLStore and Redis implement
// it.
type SeedStore interface {
	// CampaignSeed returns the stored seed, storing fresh first when
	// there is none. Of hosts that race, the first writer's seed is
	// every host's: each writes only if nothing is there, then reads
	// what is. The seed is never replaced (the smarthosts' role may not
	// UPDATE or DELETE it: docs/postgres.md).
	CampaignSeed(ctx context.Context, fresh []byte) ([]byte, error)
}

// campaignSeedSchema is version 15 on both databases: one row (id 1),
// the seed in hex.
const campaignSeedSchema = `
CREATE TABLE IF NOT EXISTS campaign_seed (id INTEGER PRIMARY KEY CHECK (id = 1), seed TEXT NOT NULL);
`

// CampaignSeed is INSERT … ON CONFLICT DO NOTHING, then the row read
// back: in PostgreSQL the insert of a host that lost the race waits for
// the winner's commit and does nothing, and the read, a statement of its
// own, sees the winner's row; in SQLite the database's write lock orders
// them.
func (s *SQLStore) CampaignSeed(ctx context.Context, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, errors.New("campaign seed: no fresh seed to store")
	}
	if _, err := s.exec(ctx, s.db, `INSERT INTO campaign_seed (id, seed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, hex.EncodeToString(fresh)); err != nil {
		return nil, fmt.Errorf("campaign seed: %w", err)
	}
	var h string
	if err := s.db.QueryRowContext(ctx, `SELECT seed FROM campaign_seed WHERE id = 1`).Scan(&h); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = errors.New("stored, then not found")
		}
		return nil, fmt.Errorf("campaign seed: %w", err)
	}
	return decodeSeed(h)
}

// campaignSeedKey is Redis' seed, in hex: set once (SET NX), never
// expiring. A Redis that loses its data (no persistence, a flushed
// database) loses the seed too: the next host to need it stores another
// one, which hosts that read the old one take at their next recheck
// (campaign.SeedRecheck; docs/suspension.md).
const campaignSeedKey = "og:campaignseed"

// CampaignSeed is SET NX, then GET.
func (r *Redis) CampaignSeed(ctx context.Context, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, errors.New("campaign seed: no fresh seed to store")
	}
	if err := r.c.SetNX(ctx, campaignSeedKey, hex.EncodeToString(fresh), 0).Err(); err != nil {
		return nil, fmt.Errorf("campaign seed: %w", err)
	}
	h, err := r.c.Get(ctx, campaignSeedKey).Result()
	if err != nil {
		return nil, fmt.Errorf("campaign seed: %w", err)
	}
	return decodeSeed(h)
}

// decodeSeed is a stored seed's bytes.
func decodeSeed(h string) ([]byte, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("campaign seed: the stored seed is not hex (%d bytes)", len(h))
	}
	return b, nil
}
