package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The example's campaign section states its defaults; a campaign without
// limits, a window out of range, an action that would pass the copy, or
// fewer than two accounts are refused with the key.
func TestCampaignSection(t *testing.T) {
	data, err := os.ReadFile("../etc/milterd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("example", []byte(strings.ReplaceAll(string(data), "#| ", "")))
	if err != nil {
		t.Fatal(err)
	}
	want := &Campaign{}
	want.setDefaults()
	if !reflect.DeepEqual(c.Campaign, want) {
		t.Errorf("campaign section of the example:\n got %+v\nwant %+v", c.Campaign, want)
	}
	for yaml, key := range map[string]string{
		"campaign: {}\n":                                 "campaign",
		"limits: {}\ncampaign: {window: 30s}\n":          "campaign.window",
		"limits: {}\ncampaign: {window: 25h}\n":          "campaign.window",
		"limits: {}\ncampaign: {action: accept}\n":       "campaign.action",
		"limits: {}\ncampaign: {accounts: 1}\n":          "campaign.accounts",
		"limits: {}\ncampaign: {on_error: quarantine}\n": "campaign.on_error",
	} {
		if _, err := Parse("t.yaml", []byte(yaml)); err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("%q: %v, want an error on %s", yaml, err, key)
		}
	}
}
