package probe

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// customerRange is a line of the customer map: a range and who has it.
type customerRange struct {
	prefix   netip.Prefix
	customer string
}

// loadCustomers reads the CSV customer map: CIDR,customer id per line; a
// line starting with # is a comment.
func loadCustomers(path string) ([]customerRange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.FieldsPerRecord = 2
	var out []customerRange
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p, err := Prefixes([]string{strings.TrimSpace(rec[0])})
		if err != nil {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, customerRange{unmapPrefix(p[0]), strings.TrimSpace(rec[1])})
	}
}

// customerOf is the customer of the most specific range holding a.
func customerOf(cs []customerRange, a netip.Addr) string {
	a = a.Unmap() // a mapped target is its IPv4 address, as the ranges are
	best, bits := "", -1
	for _, c := range cs {
		if c.prefix.Contains(a) && c.prefix.Bits() > bits {
			best, bits = c.customer, c.prefix.Bits()
		}
	}
	return best
}

// unmapPrefix is p with an IPv4-mapped range (::ffff:192.0.2.0/120) as
// the IPv4 range it names: addresses are unmapped before they are
// matched, so both spellings of a range hold them.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}
