package config

import "testing"

// The complaints section: its default header, and each mistake named by
// its key.
func TestComplaintsSection(t *testing.T) {
	c, err := Parse("t.yaml", []byte("limits: {}\ncomplaints: {keys: [/k]}\n"))
	if err != nil || c.Complaints.Header != "X-Outguard-Ref" || c.Complaints.CFBLAddress != "" {
		t.Fatalf("%+v %v", c.Complaints, err)
	}
	c, err = Parse("t.yaml", []byte("limits: {}\ncomplaints: {keys: [/k], feedback_loops: [{domain: fbl.mailbox.test}], authserv_id: mx.isp.test, resolver: \"127.0.0.1:53\"}\n"))
	if err != nil || len(c.Complaints.FeedbackLoops) != 1 || c.Complaints.FeedbackLoops[0].Domain != "fbl.mailbox.test" || c.Complaints.AuthServID != "mx.isp.test" || c.Complaints.Resolver != "127.0.0.1:53" {
		t.Fatalf("%+v %v", c.Complaints, err)
	}
	if c, _ := Parse("t.yaml", []byte("limits: {default: {complaints_per_day: 3}, users: {bob: {complaints_per_day: 0}}}\n")); c == nil || *c.Limits.Default["complaints_per_day"] != 3 {
		t.Error("complaints_per_day not a limit")
	}
	parseErrors(t, map[string]string{
		"complaints: {keys: [/k]}\n":                                                     "complaints: needs the limits section",
		"limits: {}\ncomplaints: {}\n":                                                   "complaints.keys: names no key file",
		"limits: {}\ncomplaints: {keys: [/k], header: \"X Ref\"}\n":                      "complaints.header: invalid header field name",
		"limits: {}\ncomplaints: {keys: [/k], header: x-outguard}\n":                     "complaints.header: \"x-outguard\" is header.name",
		"limits: {}\ncomplaints: {keys: [/k], cfbl_address: \"FBL <f@isp.test>\"}\n":     "complaints.cfbl_address: want a bare address",
		"limits: {}\ncomplaints: {keys: [/k], feedback_loops: [{domain: \"\"}]}\n":       "complaints.feedback_loops[0].domain: want the DKIM signing domain",
		"limits: {}\ncomplaints: {keys: [/k], feedback_loops: [{domain: fbl@x.test}]}\n": "complaints.feedback_loops[0].domain: want the DKIM signing domain",
		"limits: {}\ncomplaints: {keys: [/k], authserv_id: \"mx; dkim=pass\"}\n":         "complaints.authserv_id: want the authserv-id",
		"limits: {}\ncomplaints: {keys: [/k], resolver: localhost}\n":                    "complaints.resolver: want IP:port",
	})
}
