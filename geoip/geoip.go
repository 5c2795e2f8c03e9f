// Package geoip tells the country and the autonomous system of an address
// from MaxMind-format databases (GeoLite2-Country and GeoLite2-ASN, or the
// compatible ones of DB-IP and IPinfo), for the login spread of limits.
package geoip

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Options name the databases; either may be empty.
type Options struct {
	CountryDB string // e.g. /usr/share/GeoIP/GeoLite2-Country.mmdb
	ASNDB     string // e.g. /usr/share/GeoIP/GeoLite2-ASN.mmdb
}

// DB answers lookups. It is safe for concurrent use.
type DB struct {
	country, asn *maxminddb.Reader
}

// Open reads the databases into memory rather than mapping them: a
// geoipupdate that replaces a file then takes effect at the next reload,
// and a DB a reload replaced is freed with the last message that used it.
func Open(o Options) (*DB, error) {
	d := &DB{}
	for _, f := range []struct {
		path, want string
		dst        **maxminddb.Reader
	}{{o.CountryDB, "Country", &d.country}, {o.ASNDB, "ASN", &d.asn}} {
		if f.path == "" {
			continue
		}
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("geoip: %w", err)
		}
		r, err := maxminddb.OpenBytes(data)
		if err != nil {
			return nil, fmt.Errorf("geoip %s: %w", f.path, err)
		}
		*f.dst = r
	}
	return d, nil
}

// Countries reports whether a country database is loaded.
func (d *DB) Countries() bool { return d.country != nil }

// ASNs reports whether an ASN database is loaded.
func (d *DB) ASNs() bool { return d.asn != nil }

// country is the part of a GeoLite2-Country record used: the country the
// address is in, else the one it is registered to (anycast, satellite).
type country struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

type asn struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
}

// Locate returns addr's ISO 3166 country code and ASN: "" and 0 when a
// database is missing, has no record for addr or cannot be read there.
func (d *DB) Locate(addr netip.Addr) (string, uint32) {
	addr = addr.Unmap()
	var c country
	var a asn
	if d.country != nil {
		d.country.Lookup(addr).Decode(&c)
	}
	if d.asn != nil {
		d.asn.Lookup(addr).Decode(&a)
	}
	code := c.Country.ISOCode
	if code == "" {
		code = c.Registered.ISOCode
	}
	return code, a.Number
}
