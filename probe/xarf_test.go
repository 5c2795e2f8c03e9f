package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// xarfSchema compiles the published X-ARF v4 master schema of
// testdata/xarf (see its README), each file under its own $id, with
// format assertions on (uuid, date-time, email, hostname).
func xarfSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, _ := filepath.Glob("testdata/xarf/v4/*.json")
	types, _ := filepath.Glob("testdata/xarf/v4/types/*.json")
	for _, f := range append(files, types...) {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource(doc.(map[string]any)["$id"].(string), doc); err != nil {
			t.Fatal(err)
		}
	}
	return c.MustCompile("https://xarf.org/schemas/v4/xarf-v4-master.json")
}

// Every report relayprobe writes is valid X-ARF v4 by the published
// schema: with customer ids that need mapping to the tag predicate, long
// evidence, IPv6 targets. Before: type "open" (not a v4 type) and tags
// with dots failed it, and an empty reporter was written.
func TestXARFSchema(t *testing.T) {
	sch := xarfSchema(t)
	at := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	fs := []OpenService{
		{Time: at, Target: "192.0.2.1:25", Service: "smtp-relay", Result: Confirmed, Test: "null sender", Evidence: "MAIL FROM:<> ...", Customer: "C.100 (Müller GmbH)"},
		{Time: at, Target: "[2001:db8::1]:3128", Service: "http-connect", Result: Confirmed, Test: "HTTP CONNECT", Evidence: strings.Repeat("e", 300), Customer: "-x."},
		{Time: at, Target: "192.0.2.2:23", Service: "wingate", Result: Confirmed, Test: "wingate host:port", Evidence: "prompt WinGate>"},
	}
	var b strings.Builder
	if err := WriteXARF(&b, fs, Reporter{Org: "ISP Test", Contact: "abuse@isp.test", Domain: "isp.test"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(fs) {
		t.Fatalf("%d reports for %d findings", len(lines), len(fs))
	}
	for _, l := range lines {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(l))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("report fails the X-ARF v4 schema: %v\n%s", err, l)
		}
	}
	// The schema is not a stub: a report as relayprobe wrote it before
	// fails it.
	var r map[string]any
	json.Unmarshal([]byte(lines[0]), &r)
	r["type"], r["tags"] = "open", []any{"customer:c.100"}
	if err := sch.Validate(r); err == nil {
		t.Error("the schema took type open and a tag with a dot")
	}
}

// Without a reporter (org, contact address, domain) there is no report.
func TestXARFNeedsReporter(t *testing.T) {
	fs := []OpenService{{Target: "192.0.2.1:25", Service: "smtp-relay", Result: Confirmed}}
	for _, rep := range []Reporter{{}, {Org: "ISP", Contact: "abuse@isp.test"}, {Org: "ISP", Contact: "abuse", Domain: "isp.test"}, {Org: " ", Contact: "abuse@isp.test", Domain: "isp.test"}, {Org: "ISP", Contact: "abuse@isp.test", Domain: "isp test"}} {
		var b strings.Builder
		if err := WriteXARF(&b, fs, rep); err == nil || b.Len() != 0 {
			t.Errorf("reporter %+v: %v, wrote %q", rep, err, b.String())
		}
	}
}
