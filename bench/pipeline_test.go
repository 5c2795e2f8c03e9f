package bench

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	gomilter "github.com/d--j/go-milter"

	"outguard/config"
	"outguard/internal/harness"
	"outguard/milter"
	"outguard/setup"
)

// BenchmarkPipeline runs milterd's full pipeline (clamd, shipped rules,
// limits with real limits, quarantine) in-process through the milter
// protocol, on realistic messages and on clean 10 KiB ones, for profiling:
// go test -bench Pipeline -cpuprofile cpu.out. Baseline: the same messages
// through a pipeline without checks.
func BenchmarkPipeline(b *testing.B) {
	cd := harness.StartClamd(b, "40M")
	rulesDir, _ := filepath.Abs("../rules")
	start := func(sections string) string {
		cfg, err := config.Parse("b.yaml", []byte("state_dir: "+b.TempDir()+"\nlog: {level: warn}\n"+sections))
		if err != nil {
			b.Fatal(err)
		}
		res, err := setup.Open(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(res.Close)
		log := slog.New(slog.DiscardHandler)
		bt, err := setup.Build(cfg, log, res)
		if err != nil {
			b.Fatal(err)
		}
		srv := milter.New(log, bt.State)
		sock := filepath.Join(b.TempDir(), "m.sock")
		ln, _ := net.Listen("unix", sock)
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		return sock
	}
	full := start(fmt.Sprintf("clamd: {addresses: [\"unix:%s\"], max_stream: 40MiB}\nrules: {dir: %s, watch: false}\nquarantine: {}\nlimits:\n  users: {a@example.net: {messages_per_hour: 1000000, messages_per_day: 10000000, recipients_per_hour: 1000000, recipients_per_day: 10000000}}\n", cd.Socket, rulesDir))
	bare := start("")
	small := []byte("From: <a@example.net>\r\nTo: <b@remote.test>\r\nSubject: small\r\n\r\n" + strings.Repeat("A clean line of a clean and ordinary message body.\r\n", 200))
	for _, c := range []struct {
		name, sock string
		msgs       [][]byte
	}{{"bare", bare, realistic()}, {"full", full, realistic()}, {"bare-10KiB", bare, [][]byte{small}}, {"full-10KiB", full, [][]byte{small}}} {
		msgs := c.msgs
		b.Run(c.name, func(b *testing.B) {
			var n int64
			for i := 0; i < b.N; i++ {
				for _, m := range msgs {
					body := append([]byte(nil), m...)
					body[len(body)/2] ^= byte(i) // fresh for clamd's cache
					if _, act := harness.MilterSend(b, c.sock, body); act.Type != gomilter.ActionAccept {
						b.Fatalf("%+v", act)
					}
					n += int64(len(m))
				}
			}
			b.SetBytes(n / int64(b.N))
		})
	}
}
