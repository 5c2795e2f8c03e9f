package milter_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"outguard/internal/harness"
	"outguard/milter"
	"outguard/policy"
)

// remover asks for X-Account to be removed, as the limits check does for
// an untrusted client, and notes how much of the header block the
// transaction held in memory.
type remover struct{ held chan int }

func (remover) Name() string { return "remover" }

func (r remover) CheckMessage(_ context.Context, t *policy.Transaction) (policy.Verdict, error) {
	n := 0
	for _, h := range t.Headers {
		n += len(h.Name) + len(h.Value)
	}
	r.held <- n
	t.RemoveHeader("X-Account")
	return policy.Verdict{Action: policy.Accept}, nil
}

// Header fields are kept in memory for the checks up to 64 KiB (the spool
// has them all, within memory_limit, then on disk: not twice); past it they
// are in the spool only, and a field to remove is removed wherever it is
// (its index read from the spool).
func TestHeaderFieldsBoundedInMemory(t *testing.T) {
	const limit = 64 << 10 // header fields kept in memory, whatever memory_limit
	rem := remover{make(chan int, 1)}
	lg := slog.New(slog.NewTextHandler(&harness.LogBuffer{}, nil)) // see panic_test.go
	srv := milter.New(lg, &milter.State{
		Pipeline:         policy.NewPipeline(lg, policy.Entry{Check: rem, OnError: policy.Tempfail}),
		Version:          "unit",
		SpoolDir:         t.TempDir(),
		SpoolLimit:       1 << 20,
		ProgressInterval: time.Second,
	})
	path := filepath.Join(t.TempDir(), "m.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	s := session(t, gomilter.NewClient("unix", path, gomilter.WithActions(gomilter.OptChangeHeader|gomilter.OptAddHeader)), gomilter.NewMacroBag())
	must := ok(t)
	must(s.Conn("h", gomilter.FamilyInet, 1, "127.0.0.1"))
	must(s.Helo("h"))
	must(s.Mail("a@example.net", ""))
	must(s.Rcpt("b@remote.test", ""))
	must(s.DataStart())
	pad := strings.Repeat("p", 200)
	for i := range 500 { // 100 KiB of header fields, X-Account at 3 and 400 (past 64 KiB)
		name, value := "X-Pad", fmt.Sprintf(" %d %s", i, pad)
		if i == 3 || i == 400 {
			name, value = "x-account", " forged@example.net"
		}
		must(s.HeaderField(name, value, nil))
	}
	must(s.HeaderEnd())
	must(s.BodyChunk([]byte("body\r\n")))
	mods, act, err := s.End()
	if err != nil || act.Type != gomilter.ActionAccept {
		t.Fatalf("end: %v %+v", err, act)
	}
	if held := <-rem.held; held > limit {
		t.Errorf("the transaction held %d bytes of header fields, want at most %d", held, limit)
	}
	var removed []int
	for _, m := range mods {
		if m.Type == gomilter.ActionChangeHeader && strings.EqualFold(m.HeaderName, "X-Account") && m.HeaderValue == "" {
			removed = append(removed, int(m.HeaderIndex))
		}
	}
	if fmt.Sprint(removed) != "[2 1]" {
		t.Errorf("removals %v (mods %+v), want both X-Account fields, indexes 2 then 1", removed, mods)
	}
}
