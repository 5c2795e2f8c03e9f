package setup

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"outguard/campaign"
	"outguard/config"
	"outguard/limits"
	"outguard/policy"
)

// TestCampaignSeedFile: campaign.seed_file keys the fingerprint: two
// smarthosts given one seed file (two engines built from two configs)
// give a message the same keys, as a fleet must; another seed file, or
// none, other keys. A seed file of the wrong size, or none at the path,
// is the config's error, not a silent published seed.
func TestCampaignSeedFile(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	entry := func(seedFile string) (*policy.Entry, error) {
		y := "limits: {}\ncampaign:\n  shared_domains: [isp.example]\n"
		if seedFile != "" {
			y += "  seed_file: " + seedFile + "\n"
		}
		cfg, err := config.Parse("t.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return CampaignEntry(cfg, nil, &limits.Engine{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	raw := []byte("From: a@isp.example\nTo: b@x.example\nSubject: s\n\n" +
		"Your mailbox has exceeded its storage quota and incoming messages are being held on the server until you verify your account. " +
		"To keep receiving mail please confirm your login details within the next two days using the secure page below, after which " +
		"unverified accounts are closed and their stored messages removed permanently by the system administrator of the service.\n")
	keys := func(seedFile string) []string {
		e, err := entry(seedFile)
		if err != nil {
			t.Fatal(err)
		}
		tx := &policy.Transaction{User: "a@isp.example", Rcpts: []string{"b@x.example"}, Message: bytes.NewReader(raw)}
		cc, err := e.Check.(*campaign.Engine).CampaignCount(context.Background(), tx, "a@isp.example")
		if err != nil || cc == nil {
			t.Fatalf("%v %v", cc, err)
		}
		return cc.Copy.Keys
	}
	secret := bytes.Repeat([]byte{7}, campaign.SeedSize)
	a, b := keys(file("host1.key", secret)), keys(file("host2.key", secret))
	if len(a) < campaign.MinKeys || !slices.Equal(a, b) {
		t.Fatalf("one seed on two hosts: %d and %d keys, equal %v", len(a), len(b), slices.Equal(a, b))
	}
	if other := keys(file("other.key", bytes.Repeat([]byte{8}, campaign.SeedSize))); slices.Equal(other, a) {
		t.Error("another seed gave the same keys")
	}
	if none := keys(""); slices.Equal(none, a) {
		t.Error("no seed gave the seeded keys")
	}
	// The file's mode and size: TestLoadSeed.
	for _, p := range []string{file("short.key", secret[:16]), filepath.Join(dir, "missing.key")} {
		if _, err := entry(p); err == nil || !strings.Contains(err.Error(), "campaign.seed_file") {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
}
