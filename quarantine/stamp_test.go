package quarantine

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"outguard/complaint"
)

// A released message loses the reference fields it came with (a
// customer's forged ones) and gains ours on top, unfolded, sealed for the
// holding host, queue id and account; an entry held without an account
// (before stamping) gains none; the body is untouched. Before: released
// as held.
func TestReleaseStamp(t *testing.T) {
	k, _ := complaint.NewKey(bytes.Repeat([]byte{3}, complaint.KeySize))
	st := complaint.NewStamper(complaint.Options{Header: "X-Outguard-Ref", Keys: complaint.Keys{k}, CFBLAddress: "fbl@isp.test"})
	s := &Store{Stamp: st.Fields}
	msg := "Received: from x\r\nX-Outguard-Ref: og1.00000000.AAAA\r\n\tfolded\r\nSubject: hi\r\nCFBL-Feedback-ID: own\r\ncfbl-address: own@x\r\n\r\nX-Outguard-Ref: in the body stays\r\n"
	read := func(rec Record) string {
		r, err := s.stamped(rec, strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		return string(b)
	}
	got := read(Record{Host: "mx1", QueueID: "Q1", Account: "alice"})
	head, body, _ := strings.Cut(got, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "X-Outguard-Ref: og1.") || lines[1] != "CFBL-Address: fbl@isp.test; report=arf" ||
		lines[2] != "CFBL-Feedback-ID: "+strings.TrimPrefix(lines[0], "X-Outguard-Ref: ") || lines[3] != "Received: from x" || lines[4] != "Subject: hi" ||
		body != "X-Outguard-Ref: in the body stays\r\n" {
		t.Fatalf("stamped:\n%s", got)
	}
	ref, err := complaint.Keys{k}.Open(strings.TrimPrefix(lines[0], "X-Outguard-Ref: "))
	if err != nil || ref.Host != "mx1" || ref.QueueID != "Q1" || ref.Account != "alice" {
		t.Fatalf("reference %+v %v", ref, err)
	}
	if got := read(Record{Host: "mx1", QueueID: "Q1"}); got != "Received: from x\r\nSubject: hi\r\n\r\nX-Outguard-Ref: in the body stays\r\n" {
		t.Fatalf("without an account:\n%s", got)
	}
}
