package complaint

import (
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"
)

// Real reports come with bare LF line ends (a Maildir, pipe(8)), folded
// reference fields, and inline forwards in quoted-printable whose soft
// line breaks cut the reference: each attributes.
func TestReviewEncodings(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time }}
	full := string(report(t, "arf-full.eml", ref))
	var qp strings.Builder
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte("---------- Forwarded message ---------\r\nFrom: Alice <alice@customer.test>\r\n> X-Outguard-Ref: " + ref + "\r\n"))
	w.Close()
	for name, raw := range map[string]string{
		"lf":     strings.ReplaceAll(full, "\r\n", "\n"),
		"folded": strings.Replace(full, "X-Outguard-Ref: "+ref, "X-Outguard-Ref:\r\n "+ref[:20]+"\r\n\t"+ref[20:], 1),
		"qp-inline": "From: someone@receiver.test\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String(),
	} {
		if c := in.Attribute([]byte(raw)); c.Account != aliceRef.Account {
			t.Errorf("%s: %+v", name, c)
		}
	}
}
