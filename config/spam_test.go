package config

import (
	"testing"

	"outguard/policy"
)

// The example's spam section states its defaults; the four keys of login
// spread and spam are allowed in overrides; an actions map takes the
// defaults for the keys it leaves out.
func TestSpamAndSpreadKeys(t *testing.T) {
	statesDefaults(t, "spam", optionalExample(t).Spam)
	c, err := Parse("t.yaml", []byte(`
spam: {actions: {reject: quarantine}}
geoip: {asn_db: /x.mmdb}
limits:
  users:
    bob: {networks_per_hour: 1, countries_per_hour: 2, asns_per_hour: 3, spam_per_hour: 4}
`))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Spam.Actions; policy.Action(a["reject"]) != policy.Quarantine || policy.Action(a["soft reject"]) != policy.Tempfail || len(a) != 6 {
		t.Errorf("actions %v", a)
	}
	b := c.Limits.Users["bob"]
	if *b.LimitSet["networks_per_hour"] != 1 || *b.LimitSet["countries_per_hour"] != 2 || *b.LimitSet["asns_per_hour"] != 3 || *b.LimitSet["spam_per_hour"] != 4 {
		t.Errorf("bob %+v", b)
	}
}
