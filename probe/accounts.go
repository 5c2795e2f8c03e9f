package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// AccountLogin is an outguard account that logged in from a listed
// address (milterd's limits store, through listings.accounts).
type AccountLogin struct {
	Account string    `json:"account"`
	Last    time.Time `json:"last"`
}

// maxAccountsOutput bounds what listings.accounts may write: a command
// gone wrong (a loop, the wrong program) fills no memory.
const maxAccountsOutput = 16 << 20

// accountsOf asks listings.accounts which accounts logged in from addrs:
// the addresses on its stdin, one a line; JSON lines {"addr", "account",
// "last"} on its stdout (milterctl accounts by-ip --json). relayprobe
// links no milterd code and reads no milterd config or store: the command
// does, wherever milterd's store is (see docs/ARCHITECTURE.md).
func accountsOf(ctx context.Context, lc *ListingsConfig, addrs []netip.Addr) (map[netip.Addr][]AccountLogin, error) {
	var in bytes.Buffer
	for _, a := range addrs {
		fmt.Fprintln(&in, a)
	}
	cmd, cancel := boundedCommand(ctx, time.Duration(lc.AccountsTimeout), lc.Accounts)
	defer cancel()
	out := &cappedBuffer{max: maxAccountsOutput, over: cancel} // killed at once past the bound
	errb := &cappedBuffer{max: 4096}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, out, errb
	if err := cmd.Run(); err != nil {
		if out.full {
			err = fmt.Errorf("more than %d bytes of output", maxAccountsOutput)
		}
		return nil, fmt.Errorf("%s: %v: %s", strings.Join(lc.Accounts, " "), err, bytes.TrimSpace(errb.b.Bytes()))
	}
	asked := map[netip.Addr]bool{}
	for _, a := range addrs {
		asked[a] = true
	}
	got := map[netip.Addr][]AccountLogin{}
	sc := bufio.NewScanner(&out.b)
	sc.Buffer(nil, 64<<10)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l struct {
			Addr netip.Addr `json:"addr"`
			AccountLogin
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Account == "" {
			return nil, fmt.Errorf("%s: line %d: want {\"addr\", \"account\", \"last\"}: %q", lc.Accounts[0], n, sc.Bytes())
		}
		l.Addr = l.Addr.Unmap()
		if !asked[l.Addr] {
			// An answer about an address not asked about is a confused
			// command; it names nobody for a listing.
			return nil, fmt.Errorf("%s: line %d: %s was not asked about", lc.Accounts[0], n, l.Addr)
		}
		got[l.Addr] = append(got[l.Addr], l.AccountLogin)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", lc.Accounts[0], err)
	}
	for _, ls := range got {
		slices.SortFunc(ls, func(a, b AccountLogin) int { return b.Last.Compare(a.Last) })
	}
	return got, nil
}

// cappedBuffer keeps up to max bytes. A write beyond calls over and
// fails, or without over is dropped (a chatty stderr is no failure).
type cappedBuffer struct {
	b    bytes.Buffer
	max  int
	over func()
	full bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.b.Len()+len(p) > c.max {
		c.full = true
		if c.over == nil {
			c.b.Write(p[:max(0, c.max-c.b.Len())])
			return len(p), nil
		}
		c.over()
		return 0, errors.New("output too long")
	}
	return c.b.Write(p)
}
