package bench

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/hillu/go-yara/v4"

	"outguard/mimewalk"
	"outguard/rules"
)

// realistic builds a message set like outbound customer mail: text and
// HTML bodies, with attachments of 20 KiB to 2 MiB (documents, images, a
// zip), base64 encoded.
func realistic() [][]byte {
	var out [][]byte
	for i, size := range []int{0, 20 << 10, 100 << 10, 300 << 10, 1 << 20, 2 << 20, 50 << 10, 500 << 10} {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fmt.Fprintf(&b, "From: <a@customer.test>\r\nTo: <b@remote.test>\r\nSubject: message %d\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", i, mw.Boundary())
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}})
		io.WriteString(w, strings.Repeat("Hello, here is the document we talked about. Regards.\r\n", 40))
		w, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/html; charset=utf-8"}})
		io.WriteString(w, strings.Repeat("<p>Hello, here is the <b>document</b> we talked about.</p>\r\n", 40))
		if size > 0 {
			data := make([]byte, size)
			rand.Read(data)
			name := "report.pdf"
			if i%3 == 0 {
				var zb bytes.Buffer
				zw := zip.NewWriter(&zb)
				f, _ := zw.Create("report.pdf")
				f.Write(data)
				zw.Close()
				data, name = zb.Bytes(), "report.zip"
			}
			w, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/octet-stream"}, "Content-Disposition": {"attachment; filename=" + name}, "Content-Transfer-Encoding": {"base64"}})
			enc := base64.StdEncoding.EncodeToString(data)
			for len(enc) > 76 {
				io.WriteString(w, enc[:76]+"\r\n")
				enc = enc[76:]
			}
			io.WriteString(w, enc+"\r\n")
		}
		mw.Close()
		out = append(out, b.Bytes())
	}
	return out
}

// shippedRules returns the engine on the shipped rules, and the baseline: a
// bare yara scanner on the same compiled rules, externals at their defaults.
func shippedRules(b *testing.B) (*rules.Engine, *yara.Scanner) {
	set, err := rules.Compile("../rules")
	if err != nil {
		b.Fatal(err)
	}
	eng := rules.NewEngine(set)
	eng.Limits = mimewalk.Limits{SpoolDir: b.TempDir()}
	sc, err := yara.NewScanner(rules.YaraRules(set))
	if err != nil {
		b.Fatal(err)
	}
	for name, v := range rules.Externals {
		sc.DefineVariable(name, v)
	}
	return eng, sc
}

// BenchmarkRules runs the shipped rules over the decoded parts of a
// realistic message set (walk, decode, expand archives, scan) and, as the
// baseline in the same run, yara's ScanMem over the same raw bytes. It
// reports the throughput ratio and the walker's allocations per MiB.
func BenchmarkRules(b *testing.B) {
	eng, sc := shippedRules(b)
	msgs := realistic()
	var total int64
	for _, m := range msgs {
		total += int64(len(m))
	}
	var tWalk, tRaw time.Duration
	var allocs uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range msgs {
			start := time.Now()
			var ms yara.MatchRules
			sc.SetCallback(&ms)
			if err := sc.ScanMem(m); err != nil {
				b.Fatal(err)
			}
			tRaw += time.Since(start)
			var before, after runtimeStats
			before.read()
			start = time.Now()
			if _, err := eng.Scan(context.Background(), bytes.NewReader(m), int64(len(m)), "", ""); err != nil {
				b.Fatal(err)
			}
			tWalk += time.Since(start)
			after.read()
			allocs += after.bytes - before.bytes
		}
	}
	mib := float64(total*int64(b.N)) / (1 << 20)
	b.ReportMetric(mib/tWalk.Seconds(), "walk+scan_MiB/s")
	b.ReportMetric(mib/tRaw.Seconds(), "ScanMem_MiB/s")
	b.ReportMetric(tRaw.Seconds()/tWalk.Seconds(), "ratio")
	b.ReportMetric(float64(allocs)/mib/(1<<20), "alloc_MiB_per_MiB")
}

// BenchmarkRulesSmallItems is the other end: a message of 100 small parts
// (a mail merge's inline snippets, an archive of small files), where the
// cost per scanned item, not per byte, decides. Baseline in the same run:
// one ScanMem with the library's default flags per part's raw bytes, as
// many calls as the engine makes. Ratio = baseline time / engine time.
func BenchmarkRulesSmallItems(b *testing.B) {
	eng, sc := shippedRules(b)
	var msg bytes.Buffer
	var parts [][]byte
	msg.WriteString("From: <a@example.net>\r\nTo: <b@remote.test>\r\nSubject: snippets\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n")
	for i := range 100 {
		p := []byte(fmt.Sprintf("Snippet %d: an ordinary line of text, nothing to see here.\r\n", i))
		parts = append(parts, p)
		msg.WriteString("--b\r\nContent-Type: text/plain\r\n\r\n")
		msg.Write(p)
	}
	msg.WriteString("--b--\r\n")
	m := msg.Bytes()
	var tEngine, tRaw time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for _, p := range parts {
			var ms yara.MatchRules
			sc.SetCallback(&ms)
			if err := sc.ScanMem(p); err != nil {
				b.Fatal(err)
			}
		}
		tRaw += time.Since(start)
		start = time.Now()
		if _, err := eng.Scan(context.Background(), bytes.NewReader(m), int64(len(m)), "", ""); err != nil {
			b.Fatal(err)
		}
		tEngine += time.Since(start)
	}
	b.ReportMetric(float64(tEngine.Microseconds())/float64(b.N)/101, "us/item")
	b.ReportMetric(tRaw.Seconds()/tEngine.Seconds(), "ratio")
}
