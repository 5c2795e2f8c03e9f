package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"outguard/mimewalk"
	"outguard/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/messages/*.want")

// summary is what a .want file pins for a message.
type summary struct {
	Verdict  string   `json:"verdict"`
	Matches  []string `json:"matches,omitempty"`  // rule@path
	Findings []string `json:"findings,omitempty"` // kind@path
	Stamps   []string `json:"stamps,omitempty"`
	Items    []string `json:"items"` // path content-type filename size
}

func shipped(t testing.TB) *Engine {
	set, err := Compile(".")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(set)
	e.Limits = mimewalk.Limits{MemoryLimit: 64 << 10} // exercise the disk spool too
	return e
}

func summarize(e *Engine, res Result) summary {
	var s summary
	note := func(n string) {
		if !strings.HasPrefix(n, "rules "+res.Version) {
			s.Stamps = append(s.Stamps, n)
		}
	}
	v := e.Decide(res, note, note)
	s.Verdict = v.Action.String()
	for _, m := range res.Matches() {
		s.Matches = append(s.Matches, m.Rule+"@"+m.Path)
	}
	for _, f := range res.Anomalies {
		s.Findings = append(s.Findings, f.Kind+"@"+f.Path)
	}
	for i, it := range res.Items {
		if i == 50 {
			s.Items = append(s.Items, "…")
			break
		}
		s.Items = append(s.Items, strings.Join([]string{it.Path, it.ContentType, it.Filename, itoa(it.Size)}, " "))
	}
	return s
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestGoldenMessages: every testdata/messages/NN-name.eml against its
// .want (go test ./rules -update rewrites them).
func TestGoldenMessages(t *testing.T) {
	e := shipped(t)
	files, _ := filepath.Glob("../testdata/messages/*.eml")
	if len(files) < 15 {
		t.Fatalf("%d golden messages", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			res, err := e.Scan(context.Background(), bytes.NewReader(data), int64(len(data)), "alice", "alice@customer.test")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(summarize(e, res), "", "  ")
			want := strings.TrimSuffix(f, ".eml") + ".want"
			if *update {
				os.WriteFile(want, append(got, '\n'), 0o644)
				return
			}
			w, _ := os.ReadFile(want)
			if string(got)+"\n" != string(w) {
				t.Errorf("got\n%s\nwant\n%s", got, w)
			}
		})
	}
}

// Each shipped rule fires on its trigger message and stays quiet on the
// look-alike that must not trigger it.
func TestShippedRulesTriggers(t *testing.T) {
	e := shipped(t)
	cases := map[string]struct{ trigger, clean, action string }{
		"executable_attachment":      {"05-zip-in-zip", "02-nested-multipart", "reject"},
		"double_extension":           {"04-rfc2231-filename", "02-nested-multipart", "reject"},
		"script_attachment":          {"06-tar-gz", "17-script-mentioned-inline", "reject"},
		"office_vba_macro":           {"12-office-macro", "02-nested-multipart", "quarantine"},
		"html_password_form_offsite": {"13-phishing-form", "14-html-form-onsite", "quarantine"},
		"encrypted_zip":              {"15-encrypted-zip", "05-zip-in-zip", "quarantine"},
		"eicar_test_string":          {"03-rfc822-attachment", "01-clean-text", "accept"},
	}
	scan := func(name string) (Result, policy.Verdict) {
		data, err := os.ReadFile("../testdata/messages/" + name + ".eml")
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Scan(context.Background(), bytes.NewReader(data), int64(len(data)), "", "")
		if err != nil {
			t.Fatal(err)
		}
		return res, e.Decide(res, func(string) {}, func(string) {})
	}
	for rule, c := range cases {
		has := func(res Result) bool {
			for _, m := range res.Matches() {
				if m.Rule == rule {
					return true
				}
			}
			return false
		}
		res, v := scan(c.trigger)
		if !has(res) || v.Action.String() != c.action {
			t.Errorf("%s: %s gave %v with %+v", rule, c.trigger, v.Action, res.Matches())
		}
		if res, _ := scan(c.clean); has(res) {
			t.Errorf("%s fired on %s", rule, c.clean)
		}
	}
	// The encrypted member need not be the first: 21 hides it behind a
	// plain readme.
	if res, v := scan("21-encrypted-behind-plain"); v.Action.String() != "quarantine" || len(res.Matches()) != 1 || res.Matches()[0].Rule != "encrypted_zip" {
		t.Errorf("encrypted member behind a plain one: %v %+v", v.Action, res.Matches())
	}
	if len(cases) != len(e.Set().Info) {
		t.Errorf("%d shipped rules, %d tested", len(e.Set().Info), len(cases))
	}
}
