package geoip_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"outguard/geoip"
	"outguard/internal/mmdbtest"
)

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	cdb, adb := filepath.Join(dir, "c.mmdb"), filepath.Join(dir, "a.mmdb")
	mmdbtest.Write(t, cdb, "GeoLite2-Country", map[string]mmdbtype.Map{
		"127.0.1.0/24":  {"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}},
		"127.0.2.0/24":  {"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("FR")}},
		"2001:db8::/32": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("NL")}},
	})
	mmdbtest.Write(t, adb, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"127.0.1.0/24": {"autonomous_system_number": mmdbtype.Uint32(64500), "autonomous_system_organization": mmdbtype.String("Example")},
	})
	db, err := geoip.Open(geoip.Options{CountryDB: cdb, ASNDB: adb})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]struct {
		c   string
		asn uint32
	}{
		"127.0.1.9":        {"DE", 64500},
		"::ffff:127.0.1.9": {"DE", 64500}, // as Postfix may pass an IPv4 client
		"127.0.2.1":        {"FR", 0},
		"2001:db8:1::1":    {"NL", 0},
		"127.0.3.1":        {"", 0},
		"2001:db9::1":      {"", 0},
	} {
		c, asn := db.Locate(netip.MustParseAddr(addr))
		if c != want.c || asn != want.asn {
			t.Errorf("%s: %q AS%d, want %q AS%d", addr, c, asn, want.c, want.asn)
		}
	}
	// Only an ASN database: countries are unknown, ASNs are not.
	only, err := geoip.Open(geoip.Options{ASNDB: adb})
	if err != nil {
		t.Fatal(err)
	}
	if c, asn := only.Locate(netip.MustParseAddr("127.0.1.1")); c != "" || asn != 64500 || only.Countries() || !only.ASNs() {
		t.Errorf("ASN only: %q %d", c, asn)
	}
	// A file that is not a database is an error naming it, not an empty DB.
	bad := filepath.Join(dir, "bad.mmdb")
	os.WriteFile(bad, []byte("not a database"), 0o644)
	if _, err := geoip.Open(geoip.Options{CountryDB: bad}); err == nil {
		t.Error("a broken database opened")
	}
	if _, err := geoip.Open(geoip.Options{CountryDB: filepath.Join(dir, "missing.mmdb")}); err == nil {
		t.Error("a missing database opened")
	}
}
