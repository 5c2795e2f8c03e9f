package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesCheckAndTest(t *testing.T) {
	noConfig := filepath.Join(t.TempDir(), "none.yaml") // the security team's workstation
	out, code := ctl(t, noConfig, "rules", "check", "../../rules")
	if code != 0 || !strings.Contains(out, "7 rules in 4 files, version ") {
		t.Errorf("check shipped (%d): %s", code, out)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.yar"), []byte("rule ok { meta: action = \"tag\" condition: true }\n\nrule broken { condition: $missing }\n"), 0o644)
	out, code = ctl(t, noConfig, "rules", "check", bad)
	if code != 1 || !strings.Contains(out, filepath.Join(bad, "a.yar")+":3: undefined string") {
		t.Errorf("check broken (%d): %s", code, out)
	}
	slow := t.TempDir()
	os.WriteFile(filepath.Join(slow, "s.yar"), []byte("rule s { strings: $a = /x.*y/ condition: $a }\n"), 0o644)
	out, code = ctl(t, noConfig, "rules", "check", slow)
	if code != 0 || !strings.Contains(out, "may slow down scanning") || !strings.Contains(out, "has no meta action") {
		t.Errorf("check slow (%d): %s", code, out)
	}
	out, code = ctl(t, noConfig, "rules", "test", "../../rules", "../../testdata/messages/12-office-macro.eml", "--json")
	var res []struct {
		Verdict string
		Items   []struct{ Path string }
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res) != 1 || res[0].Verdict != "quarantine" {
		t.Fatalf("test --json (%d): %v\n%s", code, err, out)
	}
	out, _ = ctl(t, noConfig, "rules", "test", "../../rules", "../../testdata/messages/12-office-macro.eml")
	if !strings.Contains(out, "1.2/budget.docm/word/vbaProject.bin") || !strings.Contains(out, "office:office_vba_macro → quarantine") {
		t.Errorf("test:\n%s", out)
	}
}
