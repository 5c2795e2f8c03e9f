package milter_test

import (
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/milter"
	"outguard/policy"
)

// BenchmarkWire is the milter packet layer alone (the wire guard, go-milter
// and the session callbacks, a pipeline without checks) under a client
// that writes what Postfix writes, on a unix socket, one message after the
// other on one connection: per message, its allocations (-benchmem) and
// time. 10KiB is the clean small message of bench/compare, 2MiB its
// attachment; stamp adds the accepted message's header, a modification
// before the final reply.
func BenchmarkWire(b *testing.B) {
	for _, c := range []struct {
		name  string
		size  int
		stamp bool
	}{{"10KiB", 10 << 10, false}, {"10KiB-stamp", 10 << 10, true}, {"2MiB", 2 << 20, false}} {
		b.Run(c.name, func(b *testing.B) {
			lg := slog.New(slog.DiscardHandler)
			st := &milter.State{
				Pipeline:         policy.NewPipeline(lg),
				Version:          "bench",
				SpoolDir:         b.TempDir(),
				SpoolLimit:       1 << 20,
				ProgressInterval: time.Second,
				ReadTimeout:      10 * time.Second,
				IdleTimeout:      10 * time.Second,
			}
			if c.stamp {
				st.HeaderName = "X-Outguard"
			}
			srv := milter.New(lg, st)
			sock := filepath.Join(b.TempDir(), "m.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			mta := harness.DialMilterPostfix(b, sock)
			body := []byte(strings.Repeat("A clean line of a clean and ordinary message body.\r\n", c.size/52+1))[:c.size]
			msg := mta.Message("alice@customer.test", "alice@customer.test", "bob@remote.test", [][2]string{
				{"From", " <alice@customer.test>"}, {"To", " <bob@remote.test>"}, {"Subject", " bench"},
				{"Message-ID", " <1@customer.test>"}, {"Date", " Mon, 30 Nov 2026 12:00:00 +0000"}}, body)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if code := mta.Send(b, msg); code != 'a' {
					b.Fatalf("answered %q, want accept", code)
				}
			}
		})
	}
}
