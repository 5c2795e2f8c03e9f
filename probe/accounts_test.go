package probe

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"outguard/internal/yamlconf"
)

// listings.accounts gets the listed addresses on its stdin and its JSON
// lines name their accounts (an address given v4-mapped is the IPv4 one,
// most recent login first); a command that misbehaves names nobody and
// says why: one that never ends is killed with its children at
// accounts_timeout, one that floods its output is cut at the bound, one
// that answers about an address it was not asked about or writes
// something else is not believed, one that fails says so with its stderr.
func TestAccountsOf(t *testing.T) {
	dir := t.TempDir()
	stdin := filepath.Join(dir, "stdin")
	pidFile := filepath.Join(dir, "pid")
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("192.0.2.9")}
	sh := func(script string) []string { return []string{"sh", "-c", script} }
	for _, c := range []struct {
		name    string
		argv    []string
		want    string // "addr account, ..." or the error's text
		wantErr bool
	}{
		{"answers", sh(`cat > ` + stdin + `; printf '%s\n' '{"addr":"192.0.2.5","account":"alice","last":"2026-11-30T10:00:00Z"}' '' '{"addr":"::ffff:192.0.2.5","account":"bob","last":"2026-11-30T11:00:00Z"}'`),
			"192.0.2.5 bob, 192.0.2.5 alice", false},
		{"never ends", sh(`sleep 30 & echo $! > ` + pidFile + `; wait`), "signal: killed", true},
		{"floods", sh(`yes '{"addr":"192.0.2.5","account":"alice","last":"2026-11-30T10:00:00Z"}'`), "more than 16777216 bytes of output", true},
		{"not asked", sh(`echo '{"addr":"192.0.2.6","account":"alice","last":"2026-11-30T10:00:00Z"}'`), "192.0.2.6 was not asked about", true},
		{"garbage", sh(`echo 'ADDR ACCOUNT LAST'`), `line 1: want {"addr", "account", "last"}`, true},
		{"fails", sh(`echo 'limits store: connection refused' >&2; exit 1`), "exit status 1: limits store: connection refused", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			timeout := 500 * time.Millisecond
			if c.name == "floods" {
				timeout = time.Minute // cut by its size, not its time
			}
			lc := &ListingsConfig{Accounts: c.argv, AccountsTimeout: yamlconf.Duration(timeout)}
			who, err := accountsOf(context.Background(), lc, addrs)
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), c.want) || who != nil {
					t.Fatalf("got %v, %v; want no accounts and an error with %q", who, err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range addrs {
				for _, l := range who[a] {
					got = append(got, a.String()+" "+l.Account)
				}
			}
			if strings.Join(got, ", ") != c.want {
				t.Errorf("accounts %q, want %q", got, c.want)
			}
			if b, _ := os.ReadFile(stdin); string(b) != "192.0.2.5\n192.0.2.9\n" {
				t.Errorf("stdin %q", b)
			}
		})
	}
	// The never-ending command's child was killed with it.
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// Killed is gone or a zombie: the orphan is reaped by PID 1, which
	// in a container may take its time.
	alive := func() bool {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		i := strings.LastIndexByte(string(st), ')')
		return err == nil && i > 0 && !strings.HasPrefix(string(st[i:]), ") Z")
	}
	for i := 0; alive(); i++ {
		if i == 50 {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d outlived accounts_timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Each listed address is asked about once, and only listings of an
// address are given accounts: a range listing's first address stands for
// the whole range (UCEPROTECT Level 3), not for whoever sent from it.
func TestListingsAccounts(t *testing.T) {
	addr, _ := fakeDNSBL(t, func(m *dns.Msg, q string) {
		if strings.HasPrefix(q, "2.0.0.127.") || strings.HasPrefix(q, "0.2.0.192.") {
			listA(m, q)
		} else {
			m.Rcode = dns.RcodeNameError
		}
	})
	cfg := listingsLab(t, addr, "192.0.2.0/30", 1000)
	stdin := filepath.Join(cfg.StateDir, "stdin")
	cfg.Listings.Zones = append(cfg.Listings.Zones, DNSBLZone{Zone: "l3.test", Name: "L3", Form: FormRange, Codes: []string{"127.0.0.2"}})
	cfg.Listings.Accounts = []string{"sh", "-c", `cat > ` + stdin + `; echo '{"addr":"192.0.2.0","account":"alice","last":"2026-11-30T10:00:00Z"}'`}
	cfg.Listings.AccountsTimeout = yamlconf.Duration(time.Minute)
	run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range run.Listed {
		got = append(got, fmt.Sprint(l.Zone, " ", l.Addr, " ", len(l.Accounts)))
	}
	if strings.Join(got, ", ") != "l1.test 192.0.2.0 1, l3.test 192.0.2.0 0" || len(run.Errors) != 0 {
		t.Errorf("listings %q, errors %q", got, run.Errors)
	}
	// 192.0.2.1 was listed before and is not now: asked about too.
	if b, _ := os.ReadFile(stdin); string(b) != "192.0.2.0\n192.0.2.1\n" {
		t.Errorf("stdin %q", b)
	}
}
