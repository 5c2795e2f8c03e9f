// Package bench holds benchmarks that compare outguard against a baseline
// measured in the same run. Run: go test -run X -bench . ./bench
package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"outguard/clamd"
	"outguard/internal/harness"
)

// milterd builds and starts the milterd binary with the given config
// sections and returns its socket and PID.
func milterd(b *testing.B, sections string) (string, int) {
	dir := harness.Dir(b, "bench")
	sock := filepath.Join(dir, "m.sock")
	cfg := filepath.Join(dir, "milterd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s\nstate_dir: %s\nlog: {level: warn}\n%s", sock, dir, sections)), 0o644)
	return sock, harness.StartMilterd(b, harness.Build(b, dir, "milterd"), cfg, "unix:"+sock, os.Stderr).Process.Pid
}

// viaMilter sends msg through milterd as an MTA would.
func viaMilter(b *testing.B, sock string, msg []byte) {
	if _, act := harness.MilterSend(b, sock, msg); act.Type != gomilter.ActionAccept {
		b.Fatalf("milter: %+v", act)
	}
}

func direct(b *testing.B, c *clamd.Client, msg []byte) {
	s, err := c.Stream(context.Background(), 0)
	if err != nil {
		b.Fatalf("%v", err)
	}
	defer s.Close()
	s.Write([]byte("Subject: bench\r\n\r\n"))
	for len(msg) > 0 {
		n := min(len(msg), 64<<10)
		s.Write(msg[:n])
		msg = msg[n:]
	}
	if res, err := s.Result(); err != nil || res.Infected {
		b.Fatalf("direct: %+v %v", res, err)
	}
}

// BenchmarkClamdStream streams fresh random payloads (clamd caches clean
// results) straight to clamd and through milterd, interleaved, and reports
// milterd's throughput as a ratio of clamd's own, and milterd's peak RSS.
func BenchmarkClamdStream(b *testing.B) {
	cd := harness.StartClamd(b, "40M")
	sock, pid := milterd(b, fmt.Sprintf("clamd:\n  addresses: [unix:%s]\n  max_stream: 40MiB\n", cd.Socket))
	client := clamd.New([]clamd.Addr{{Network: "unix", Address: cd.Socket}}, clamd.Options{})
	for _, mib := range []int{1, 10, 25} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			msg := make([]byte, mib<<20)
			var tDirect, tMilter time.Duration
			for i := 0; i < b.N; i++ {
				rand.Read(msg)
				start := time.Now()
				direct(b, client, msg)
				tDirect += time.Since(start)
				rand.Read(msg)
				start = time.Now()
				viaMilter(b, sock, msg)
				tMilter += time.Since(start)
			}
			mb := float64(b.N * mib)
			b.ReportMetric(mb/tDirect.Seconds(), "direct_MiB/s")
			b.ReportMetric(mb/tMilter.Seconds(), "milter_MiB/s")
			b.ReportMetric(tDirect.Seconds()/tMilter.Seconds(), "ratio")
			b.ReportMetric(harness.PeakRSS(pid), "milterd_peak_RSS_MiB")
		})
	}
}

type runtimeStats struct{ bytes uint64 }

func (s *runtimeStats) read() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.bytes = m.TotalAlloc
}
