package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"outguard/internal/harness"
)

// relayprobe listings names the outguard accounts that sent from a listed
// address: a message of alice's through real Postfix and milterd from
// 127.0.5.7, which the test list (Debian's unbound) lists, is in the
// listing, on each store, through milterctl accounts by-ip as
// listings.accounts runs it. Her later login from another address of the
// same /24 does not hide it (the network sighting keeps only the last
// address); bob, who sent from an unlisted address, is named for nothing;
// a listed address nobody sent from has no accounts. Before, the listings
// named no accounts: milterd's store could not tell who sent from an
// address.
func TestRelayprobeListingsAccounts(t *testing.T) {
	t.Parallel()
	rpBin := relayprobeBin(t)
	ctlBin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	dns := harness.StartUnbound(t, harness.UnboundConfig{Zones: map[string][]string{
		"l1.dnsbl.test.": dnsbl("l1.dnsbl.test", map[string]string{"127.0.5.7": "127.0.0.2", "127.0.5.20": "127.0.0.2"}),
	}})
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			yaml := "trusted_networks: [127.0.200.0/24]\n" + spreadStoreYAML(t, kind, "")
			s, cfg, _ := harness.ConfigStack(t, yaml, harness.MTAConfig{})
			send := func(from, user, pass string) {
				t.Helper()
				c := harness.DialFrom(t, s.Postfix.Addr(), from, user, pass)
				defer c.Quit()
				if r := c.Send(user+"@customer.test", []string{"x@remote.test"}, spreadMsg(user+" from "+from)); r.Err != nil {
					t.Fatalf("%s from %s: %s", user, from, harness.Reply(r.Err))
				}
			}
			send("127.0.5.7", harness.User, harness.Pass)
			send("127.0.5.9", harness.User, harness.Pass)
			send("127.0.5.8", "bob", "secret-bob")
			ctlConf := writeConfig(t, fmt.Sprintf("state_dir: %s\n%s", cfg.StateDir, yaml))
			dir := t.TempDir()
			alertLog := filepath.Join(dir, "alerts.log")
			conf := rpConfig(t, dir, fmt.Sprintf(`alert: {command: [sh, -c, "cat >> %s; echo >> %s"]}
listings:
  ranges: [127.0.5.0/27]
  resolver: %s
  rate: 500
  timeout: 1s
  zones: [{zone: l1.dnsbl.test, name: "Test L1", per24: true}]
  accounts: [%s, -config, %s, accounts, by-ip, --json]
`, alertLog, alertLog, dns.Addr, ctlBin, ctlConf))
			code, out, errs := rp(t, rpBin, "listings", "-config", conf, "--json")
			want := []string{"listed 127.0.5.20 ", "listed 127.0.5.7 " + harness.User, "new 127.0.5.20 ", "new 127.0.5.7 " + harness.User}
			if got := listingAccounts(t, out); code != 1 || !slices.Equal(got, want) {
				t.Fatalf("exit %d, lines %q, want %q\n%s%s", code, got, want, out, errs)
			}
			// The abuse desk is told who sent from the new listing.
			var alert struct {
				Event string
				New   []struct {
					Addr     string
					Accounts []struct{ Account string }
				}
			}
			b, _ := os.ReadFile(alertLog)
			if err := json.NewDecoder(bytes.NewReader(b)).Decode(&alert); err != nil || alert.Event != "relayprobe-listings" || len(alert.New) != 2 ||
				alert.New[0].Addr != "127.0.5.7" || len(alert.New[0].Accounts) != 1 || alert.New[0].Accounts[0].Account != harness.User || len(alert.New[1].Accounts) != 0 {
				t.Errorf("alert %v %+v\n%s", err, alert, b)
			}
			// For people: the account next to the listing.
			_, text, _ := rp(t, rpBin, "listings", "-config", conf)
			if !strings.Contains(text, "127.0.5.7") || !regexpLine(text, `^127\.0\.5\.7\s+Test L1\s.*\s`+harness.User+`$`) {
				t.Errorf("text output names no account for 127.0.5.7:\n%s", text)
			}
			// The operator's own look-up.
			if out, code := milterctl(t, ctlBin, ctlConf, "accounts", "by-ip", "127.0.5.7", "127.0.5.8"); code != 0 ||
				!regexpLine(out, `^127\.0\.5\.7\s+`+harness.User+`\s`) || !regexpLine(out, `^127\.0\.5\.8\s+bob\s`) {
				t.Errorf("milterctl accounts by-ip: exit %d\n%s", code, out)
			}
			// The store gone (its milterctl fails): the listings stand,
			// without accounts, and the run says why (exit 3).
			os.WriteFile(ctlConf, []byte("state_dir: /nonexistent/outguard\n"+yaml), 0o644)
			if kind == "sqlite" {
				code, out, errs = rp(t, rpBin, "listings", "-config", conf, "--json")
				want = []string{"error  accounts", "listed 127.0.5.20 ", "listed 127.0.5.7 "}
				if got := listingAccounts(t, out); code != 3 || !slices.Equal(got, want) {
					t.Errorf("store gone: exit %d, lines %q, want %q\n%s%s", code, got, want, out, errs)
				}
			}
		})
	}
}

// listingAccounts lists "type addr accounts" of the JSON lines of a
// listings run (listings and changes; errors as "error  " and their
// first word), sorted.
func listingAccounts(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var x struct {
			Type     string
			Addr     string
			Error    string
			Accounts []struct{ Account string }
		}
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		var names []string
		for _, a := range x.Accounts {
			names = append(names, a.Account)
		}
		switch x.Type {
		case "per24":
			continue
		case "error":
			names = []string{strings.SplitN(x.Error, ":", 2)[0]}
		}
		got = append(got, fmt.Sprintf("%s %s %s", x.Type, x.Addr, strings.Join(names, ",")))
	}
	slices.Sort(got)
	return got
}

// regexpLine reports whether a line of text matches re.
func regexpLine(text, re string) bool {
	return regexp.MustCompile("(?m)" + re).MatchString(text)
}
