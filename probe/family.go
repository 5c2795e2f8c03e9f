package probe

import (
	"context"
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// family is one kind of test, run on every port its key lists under the
// config's ports:. Its tests live in a file of its own (relay.go,
// proxy.go, wingate.go). Adding one: that file, an entry here, and its key
// in etc/relayprobe.example.yaml and docs/man/relayprobe.8.scd.
type family struct {
	ports []int // the default ports
	// probe tests one port: what is open there (nil when nothing answered
	// like the service), and how the port ended (open, closed,
	// unreachable, error).
	probe func(s *Scanner, ctx context.Context, addr netip.AddrPort) (*OpenService, Outcome)
}

// families are the test families by their ports: key.
var families = map[string]family{
	"smtp":   {ports: []int{25, 587, 2525}, probe: (*Scanner).relay},
	"proxy":  {ports: []int{80, 1080, 3128, 8080, 8000, 8888}, probe: (*Scanner).proxy},
	"telnet": {ports: []int{23}, probe: (*Scanner).wingate},
}

// familyKeys are the families' keys in the order a scan runs them.
func familyKeys() []string { return slices.Sorted(maps.Keys(families)) }

// Ports are the ports scanned, by test family key.
type Ports map[string][]int

// defaultPorts are every family's default ports.
func defaultPorts() Ports {
	p := Ports{}
	for k, f := range families {
		p[k] = slices.Clone(f.ports)
	}
	return p
}

// UnmarshalJSON also reads the scans kept by earlier versions, whose keys
// were SMTP, Proxy and Telnet.
func (p *Ports) UnmarshalJSON(b []byte) error {
	var m map[string][]int
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = Ports{}
	for k, v := range m {
		(*p)[strings.ToLower(k)] = v
	}
	return nil
}
