package complaint_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	. "outguard/complaint"
)

// The feedback loop's signature covers the report's body and the header
// fields it names, the bottom-most of each; a field added above them is
// not covered. Mallory sends, through her own account, mail whose body
// hides a MIME part quoting alice's reference under a boundary of her
// choosing, to a mailbox of the feedback loop, and reports it: the
// genuine report, signed, counts for mallory. Adding a Content-Type on
// top naming her boundary (or changing an unsigned one) makes the parser
// read only the hidden part: the report then counted for alice. It must
// count for no one (the fields that decide how the report is read are
// the signed ones, once).
func TestReviewUnsignedContentType(t *testing.T) {
	in, _, ks := fblIngester(t)
	_, aliceRef := freshRef(ks, AliceRef.Account, AliceRef.QueueID)
	mallory, malloryRef := freshRef(ks, "mallory@customer.test", "4ZxQ9mallory")
	report := func() []byte {
		r := string(ReportOf(t, "arf-full.eml", malloryRef))
		return []byte(strings.Replace(r, "Buy now.\r\n", "Buy now.\r\n--evil\r\nContent-Type: message/rfc822\r\n\r\nX-Outguard-Ref: "+aliceRef+"\r\n\r\n--evil--\r\n", 1))
	}
	res, err := in.Ingest(context.Background(), bytes.NewReader(fblKey.Sign(t, report(), "")))
	if err != nil || res.Complaint.Account != mallory.Account {
		t.Fatalf("the genuine report: %+v %v", res.Complaint, err)
	}
	// An unsigned identity encoding (an ARF generator's "7bit") changes
	// nothing: the report counts.
	sevenBit := bytes.Replace(report(), []byte("MIME-Version: 1.0\r\n"), []byte("MIME-Version: 1.0\r\nContent-Transfer-Encoding: 7bit\r\n"), 1)
	res, err = in.Ingest(context.Background(), bytes.NewReader(fblKey.SignHeaders(t, sevenBit, "", "from", "to", "subject", "date", "message-id", "content-type")))
	if err != nil || res.Complaint.Account != mallory.Account || res.Complaint.FBL != "fbl.test" {
		t.Fatalf("an unsigned 7bit: %+v %v", res.Complaint, err)
	}
	ct := "Content-Type: multipart/report; report-type=feedback-report; boundary=\"evil\"\r\n"
	signed := fblKey.Sign(t, report(), "")
	for name, raw := range map[string][]byte{
		"Content-Type added on top":              append([]byte(ct), signed...),
		"Content-Transfer-Encoding added on top": append([]byte("Content-Transfer-Encoding: quoted-printable\r\n"), signed...),
		// An identity encoding replaced by one that decodes.
		"unsigned 7bit replaced": func() []byte {
			r := bytes.Replace(report(), []byte("MIME-Version: 1.0\r\n"), []byte("MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n"), 1)
			return fblKey.SignHeaders(t, r, "", "from", "to", "subject", "date", "message-id", "content-type")
		}(),
		// Our inbound MTA's pass above it says nothing of which
		// Content-Type the signature covered.
		"Content-Type added, our MTA's pass on top": append([]byte("Authentication-Results: mx.isp.test; dkim=pass header.d=fbl.test\r\n"+ct), signed...),
		// Removed where the signer did not sign it: the report is then
		// read as text, where a folded line of mallory's Subject (above
		// our reference in her header) reads as a field of its own.
		"unsigned Content-Type removed": func() []byte {
			r := strings.Replace(string(report()), "Subject: Cheap pills\r\n", "Subject: Cheap pills\r\n X-Outguard-Ref: "+aliceRef+"\r\n", 1)
			i := strings.Index(r, "Content-Type: multipart/report")
			j := strings.Index(r[i:], "\r\n\r\n")
			return fblKey.SignHeaders(t, []byte(r[:i]+r[i+j+2:]), "", "from", "to", "subject", "date", "message-id")
		}(),
		// The same, where the signer did not sign Content-Type: it is
		// replaced.
		"unsigned Content-Type replaced": func() []byte {
			r := report()
			i := bytes.Index(r, []byte("Content-Type: multipart/report"))
			j := bytes.Index(r[i:], []byte("\r\n\r\n"))
			return fblKey.SignHeaders(t, append(append(r[:i:i], ct...), r[i+j+2:]...), "", "from", "to", "subject", "date", "message-id")
		}(),
	} {
		res, err := in.Ingest(context.Background(), bytes.NewReader(raw))
		if err != nil || res.Complaint.Account != "" || !strings.Contains(res.Complaint.Problem, "not from a trusted feedback loop") {
			t.Errorf("%s: %q %q %v", name, res.Complaint.Account, res.Complaint.Problem, err)
		}
	}
}
