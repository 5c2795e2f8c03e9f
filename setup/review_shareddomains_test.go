package setup

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"outguard/config"
)

// TestReviewEmptySharedDomainsWarnsOnCheck: an explicit
// shared_domains: [] is allowed with a warning, but the warning was logged
// only when serving (a store open), so milterd -check-config, where an
// operator checks a new config, said "ok" and nothing else.
func TestReviewEmptySharedDomainsWarnsOnCheck(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte("limits: {}\ncampaign: {shared_domains: []}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := CampaignEntry(cfg, nil, nil, nil, slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "no shared_domains") {
		t.Errorf("checking a config with shared_domains: [] logged %q, want the warning", buf.String())
	}
}
