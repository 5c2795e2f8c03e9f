package config

import "testing"

// The complaints section: its default header, and each mistake named by
// its key.
func TestComplaintsSection(t *testing.T) {
	c, err := Parse("t.yaml", []byte("limits: {}\ncomplaints: {keys: [/k]}\n"))
	if err != nil || c.Complaints.Header != "X-Outguard-Ref" || c.Complaints.CFBLAddress != "" {
		t.Fatalf("%+v %v", c.Complaints, err)
	}
	if c, _ := Parse("t.yaml", []byte("limits: {default: {complaints_per_day: 3}, users: {bob: {complaints_per_day: 0}}}\n")); c == nil || *c.Limits.Default["complaints_per_day"] != 3 {
		t.Error("complaints_per_day not a limit")
	}
	parseErrors(t, map[string]string{
		"complaints: {keys: [/k]}\n":                                                 "complaints: needs the limits section",
		"limits: {}\ncomplaints: {}\n":                                               "complaints.keys: names no key file",
		"limits: {}\ncomplaints: {keys: [/k], header: \"X Ref\"}\n":                  "complaints.header: invalid header field name",
		"limits: {}\ncomplaints: {keys: [/k], header: x-outguard}\n":                 "complaints.header: \"x-outguard\" is header.name",
		"limits: {}\ncomplaints: {keys: [/k], cfbl_address: \"FBL <f@isp.test>\"}\n": "complaints.cfbl_address: want a bare address",
	})
}
