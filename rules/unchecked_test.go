package rules

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"

	"outguard/internal/mailcorpus"
	"outguard/mimewalk"
	"outguard/policy"
)

// A partial scan holds the message only when it also holds something
// risky; either alone is accepted as before.
func TestUncheckedRisky(t *testing.T) {
	e := &Engine{OnLimit: policy.Accept, OnMalformed: policy.Accept, OnUncheckedRisky: policy.Quarantine}
	limit := []mimewalk.Anomaly{{Kind: "limit", Path: "1.2/log.gz/log", Detail: "truncated"}}
	script := []ItemResult{{Path: "1.3", FileType: "script", Risk: "script"}}
	plain := []ItemResult{{Path: "1.3", FileType: "pdf"}}
	for _, c := range []struct {
		name string
		res  Result
		want policy.Action
	}{
		{"limit and a script", Result{Items: script, Anomalies: limit}, policy.Quarantine},
		{"limit and a PDF", Result{Items: plain, Anomalies: limit}, policy.Accept},
		{"a script, all checked", Result{Items: script}, policy.Accept},
		{"encrypted only", Result{Items: script, Anomalies: []mimewalk.Anomaly{{Kind: "encrypted", Path: "1.2/a.zip/x"}}}, policy.Accept},
		{"ambiguous and a script", Result{Items: script, Anomalies: []mimewalk.Anomaly{{Kind: "ambiguous", Path: "1.2"}}}, policy.Quarantine},
	} {
		v := e.Decide(c.res, func(string) {}, func(string) {})
		if v.Action != c.want {
			t.Errorf("%s: %v %s", c.name, v.Action, v.Reason)
		}
		if c.want == policy.Quarantine && !strings.Contains(v.Reason, "not fully checked") {
			t.Errorf("%s: reason %q", c.name, v.Reason)
		}
	}
}

func TestRisk(t *testing.T) {
	for _, c := range []struct {
		it   mimewalk.Item
		want bool
	}{
		{mimewalk.Item{FileType: mimewalk.TypePE}, true},
		{mimewalk.Item{FileType: mimewalk.TypeScript}, true},
		{mimewalk.Item{Names: []string{"notes.txt", "run.JS"}}, true},
		{mimewalk.Item{FileType: mimewalk.TypeOLE}, false},
		{mimewalk.Item{FileType: mimewalk.TypeOLE, Truncated: true}, true},
		{mimewalk.Item{FileType: mimewalk.TypePDF, Names: []string{"a.pdf"}}, false},
	} {
		if got := risk(&c.it) != ""; got != c.want {
			t.Errorf("%+v: %v", c.it, got)
		}
	}
}

// An attacker spends max_total on a bomb, then sends a program named like
// a document: the program's item is empty, and the message is held.
func TestTotalSpentThenProgram(t *testing.T) {
	e := shipped(t)
	e.OnUncheckedRisky = policy.Quarantine
	e.Limits.MaxTotal = 64 << 10
	msg := mailcorpus.Message("bomb", mailcorpus.Multipart("b",
		mailcorpus.Attach("application/zip", "logs.zip", mailcorpus.Zip(mailcorpus.Member{Name: "log.txt", Data: make([]byte, 1<<20), Method: zip.Deflate})),
		mailcorpus.Attach("application/pdf", "invoice.pdf", mailcorpus.PE())))
	res, err := e.Scan(context.Background(), bytes.NewReader(msg), int64(len(msg)), "", "")
	if err != nil {
		t.Fatal(err)
	}
	v := e.Decide(res, func(string) {}, func(string) {})
	if v.Action != policy.Quarantine || !strings.Contains(v.Reason, "not scanned at all") {
		t.Fatalf("%v %s", v.Action, v.Reason)
	}
}
