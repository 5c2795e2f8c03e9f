// Package mmdbtest writes MaxMind-format databases for tests: each test
// builds its own GeoLite2-shaped database with mmdbwriter, never a
// downloaded one.
package mmdbtest

import (
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Write writes a database of type kind (e.g. GeoLite2-Country,
// GeoLite2-ASN) to path, mapping each network (a CIDR) to its record.
// Reserved networks are included: the tests' clients are on loopback.
func Write(t testing.TB, path, kind string, records map[string]mmdbtype.Map) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: kind, IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}
