package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"outguard/internal/harness"
)

// TestMetricsMoveForEveryVerdict scrapes /metrics while real mail of every
// kind goes through Postfix, milterd's pipeline (clamd, limits, rules,
// quarantine) and asserts the counters moved.
func TestMetricsMoveForEveryVerdict(t *testing.T) {
	cd := harness.StartClamd(t, "30M")
	rulesDir, _ := filepath.Abs("../rules")
	s, _, res := harness.ConfigStack(t, `
clamd: {addresses: ["unix:`+cd.Socket+`"]}
rules: {dir: `+rulesDir+`, watch: false}
quarantine: {}
limits:
  default: {messages_per_hour: 3, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 10}
`, harness.MTAConfig{RcptAccess: map[string]string{"gone@remote.test": "REJECT 5.1.1 no such user"}})
	srv := httptest.NewServer(res.Metrics.Handler())
	defer srv.Close()
	scrape := func() string {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	value := func(body, series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	before := scrape()
	sendFile := func(name string, rcpts ...string) {
		data, _ := os.ReadFile("../testdata/messages/" + name + ".eml")
		s.Dial(t).SendFrom("alice@customer.test", rcpts, strings.NewReader(string(data)))
	}
	sendFile("01-clean-text", "bob@remote.test", "gone@remote.test") // accept; one undeliverable
	sendFile("05-zip-in-zip", "bob@remote.test")                     // reject by rules
	sendFile("13-phishing-form", "bob@remote.test")                  // quarantine
	c := s.Dial(t)
	r := c.Send("alice@customer.test", []string{"bob@remote.test"}, harness.Msg("alice@customer.test", "bob@remote.test", "eicar", `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`))
	if !strings.HasPrefix(harness.Reply(r.Err), "550 5.7.1 Message contains malware") {
		t.Fatalf("eicar: %s", harness.Reply(r.Err))
	}
	sendFile("01-clean-text", "bob@remote.test")
	sendFile("01-clean-text", "bob@remote.test") // the 3rd accepted: the limit
	sendFile("01-clean-text", "bob@remote.test") // over the limit of 3: tempfail
	after := scrape()
	for series, min := range map[string]float64{
		`outguard_messages_total{check="",verdict="accept"}`:                      3,
		`outguard_messages_total{check="rules",verdict="reject"}`:                 1,
		`outguard_messages_total{check="clamd",verdict="reject"}`:                 1,
		`outguard_messages_total{check="rules",verdict="quarantine"}`:             1,
		`outguard_messages_total{check="limits",verdict="tempfail"}`:              1,
		`outguard_undeliverable_recipients_total{source="rcpt"}`:                  1,
		`outguard_check_duration_seconds_count{check="clamd"}`:                    5,
		`outguard_check_duration_seconds_count{check="rules"}`:                    5,
		`outguard_scanned_bytes_total`:                                            1000,
		`outguard_refusals_total{check="limits",stage="mail",verdict="tempfail"}`: 1,
		`outguard_refusals_total{check="clamd",stage="eom",verdict="reject"}`:     1,
	} {
		if got := value(after, series) - value(before, series); got < min {
			t.Errorf("%s moved by %v, want at least %v", series, got, min)
		}
	}
	if !strings.Contains(after, `outguard_rules_info{version="`) {
		t.Errorf("no rules version in the metrics")
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", resp, err)
	}
}
