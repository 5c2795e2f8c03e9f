package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"outguard/internal/harness"
	"outguard/internal/mmdbtest"
	"outguard/limits"
)

// With geoip configured, logins from more countries (or ASNs) than the
// limit suspend, through Postfix: four /24s in two countries and two ASNs
// pass countries_per_hour: 2 and asns_per_hour: 2 (networks off); a fifth
// network in a third country crosses countries; on another account a
// third ASN in a known country crosses asns.
func TestGeoSpreadSuspends(t *testing.T) {
	t.Parallel()
	dir := harness.Dir(t, "geo")
	cdb, adb := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")
	country := func(c string) mmdbtype.Map {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(c)}}
	}
	asn := func(n uint32) mmdbtype.Map { return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n)} }
	mmdbtest.Write(t, cdb, "GeoLite2-Country", map[string]mmdbtype.Map{
		"127.0.1.0/24": country("DE"), "127.0.2.0/24": country("DE"), "127.0.3.0/24": country("FR"), "127.0.4.0/24": country("FR"),
		"127.0.5.0/24": country("US"), "127.0.6.0/24": country("DE"),
	})
	mmdbtest.Write(t, adb, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"127.0.1.0/24": asn(64500), "127.0.2.0/24": asn(64500), "127.0.3.0/24": asn(64501), "127.0.4.0/24": asn(64501),
		"127.0.5.0/24": asn(64501), "127.0.6.0/24": asn(64502),
	})
	yaml := fmt.Sprintf("trusted_networks: [192.0.2.0/24]\ngeoip: {country_db: %q, asn_db: %q}\n", cdb, adb) +
		spreadStoreYAML(t, "sqlite", "  default: {networks_per_hour: 0, countries_per_hour: 2, asns_per_hour: 2}\n")
	s, _, res := harness.ConfigStack(t, yaml, harness.MTAConfig{})
	send := func(from, user, pass string) string {
		c := harness.DialFrom(t, s.Postfix.Addr(), from, user, pass)
		defer c.Quit()
		return harness.Reply(c.Send(user+"@customer.test", []string{"x@remote.test"}, spreadMsg("from "+from)).Err)
	}
	for n := 1; n <= 4; n++ {
		if got := send(fmt.Sprintf("127.0.%d.1", n), harness.User, harness.Pass); got != "250" {
			t.Fatalf("alice from network %d (2 countries, 2 ASNs): %q", n, got)
		}
	}
	if got := send("127.0.5.1", harness.User, harness.Pass); got != "451 4.7.1 Account suspended for logins from too many places" {
		t.Fatalf("alice from a third country: %q", got)
	}
	for _, n := range []int{1, 3} {
		if got := send(fmt.Sprintf("127.0.%d.1", n), "bob", "secret-bob"); got != "250" {
			t.Fatalf("bob: %q", got)
		}
	}
	if got := send("127.0.6.1", "bob", "secret-bob"); got != "451 4.7.1 Account suspended for logins from too many places" {
		t.Fatalf("bob from a third ASN: %q", got)
	}
	for key, want := range map[string]struct {
		signal string
		values []string
	}{harness.User: {limits.SignalCountries, []string{"DE", "FR", "US"}}, "bob": {limits.SignalASNs, []string{"AS64500", "AS64501", "AS64502"}}} {
		_, sp, err := res.Store.Usage(context.Background(), key, time.Now())
		if err != nil || sp == nil || sp.Signal != want.signal || len(sp.Sightings) != 3 {
			t.Fatalf("%s: %+v %v", key, sp, err)
		}
		got := map[string]bool{}
		for _, ev := range sp.Sightings {
			got[ev.Value] = true
		}
		for _, v := range want.values {
			if !got[v] {
				t.Errorf("%s: evidence %+v lacks %s", key, sp.Sightings, v)
			}
		}
	}
}
