package probe

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A scan kept by an earlier version (keys SMTP, Proxy, Telnet) reads back
// with the families' keys, so Compare still knows which ports it tested.
func TestPortsReadEarlierScans(t *testing.T) {
	var sc Scan
	if err := json.Unmarshal([]byte(`{"ports":{"SMTP":[25],"Proxy":[3128,1080],"Telnet":null}}`), &sc); err != nil {
		t.Fatal(err)
	}
	if want := (Ports{"smtp": {25}, "proxy": {3128, 1080}, "telnet": nil}); !reflect.DeepEqual(sc.Ports, want) {
		t.Errorf("got %v, want %v", sc.Ports, want)
	}
	b, _ := json.Marshal(Scan{Ports: Ports{"smtp": {25}}})
	var back Scan
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Ports, Ports{"smtp": {25}}) {
		t.Errorf("round trip: %s -> %v, %v", b, back.Ports, err)
	}
}

// Every family has default ports and a probe; the config's default scans
// them all.
func TestEveryFamilyRuns(t *testing.T) {
	def := Default().Ports
	for _, k := range familyKeys() {
		if f := families[k]; f.probe == nil || len(f.ports) == 0 || len(def[k]) == 0 {
			t.Errorf("family %s: probe %v, ports %v, default config %v", k, f.probe != nil, f.ports, def[k])
		}
	}
}
