package setup

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"outguard/campaign"
	"outguard/config"
	"outguard/limits"
	"outguard/policy"
)

// TestCampaignSeedFromStore: the fingerprint is keyed by the seed in the
// limits store: two smarthosts (two configs, two opened resources) on
// one store give a message the same keys, and not the keys of the
// published sampling (the zero Seed), which no config can ask for any
// more. Checking the config alone (no store) builds the engine, and a
// count there fails rather than sampling with the published seed.
func TestCampaignSeedFromStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	parse := func(host string) *config.Config {
		cfg, err := config.Parse("t.yaml", []byte("state_dir: "+dir+"\nlimits: {host: "+host+"}\ncampaign:\n  shared_domains: [isp.example]\n"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	raw := []byte("From: a@isp.example\nTo: b@x.example\nSubject: s\n\n" +
		"Your mailbox has exceeded its storage quota and incoming messages are being held on the server until you verify your account. " +
		"To keep receiving mail please confirm your login details within the next two days using the secure page below, after which " +
		"unverified accounts are closed and their stored messages removed permanently by the system administrator of the service.\n")
	count := func(chk policy.Check) ([]string, error) {
		tx := &policy.Transaction{User: "a@isp.example", Rcpts: []string{"b@x.example"}, Message: bytes.NewReader(raw)}
		cc, err := chk.(*campaign.Engine).CampaignCount(ctx, tx, "a@isp.example")
		if err != nil {
			return nil, err
		}
		if cc == nil {
			t.Fatal("no keys")
		}
		return cc.Copy.Keys, nil
	}
	var keys [2][]string
	for i, host := range []string{"mx1", "mx2"} {
		cfg := parse(host)
		res, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		e, err := CampaignEntry(cfg, res, &limits.Engine{}, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		if keys[i], err = count(e.Check); err != nil {
			t.Fatal(err)
		}
	}
	if len(keys[0]) < campaign.MinKeys || !slices.Equal(keys[0], keys[1]) {
		t.Fatalf("one store, two hosts: %d and %d keys, equal %v", len(keys[0]), len(keys[1]), slices.Equal(keys[0], keys[1]))
	}
	published := campaign.New(campaign.Options{Limits: &limits.Engine{}, Seed: campaign.FixedSeed(campaign.Seed{})})
	if pub, err := count(published); err != nil || slices.Equal(pub, keys[0]) {
		t.Fatalf("the store's seed samples as the published one (%v)", err)
	}
	e, err := CampaignEntry(parse("mx1"), nil, &limits.Engine{}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := count(e.Check); err == nil {
		t.Errorf("no store: %d keys, want an error", len(k))
	}
}
