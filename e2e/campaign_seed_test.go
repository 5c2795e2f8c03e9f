package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/campaign"
	"outguard/config"
	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
	"outguard/setup"
)

// seedHost is one smarthost as milterd builds it (setup.Open, then
// setup.Build), driven through its pipeline without an MTA.
type seedHost struct {
	cfg *config.Config
	res *setup.Resources
	b   *setup.Built
}

// startSeedHost opens and builds the host of yaml.
func startSeedHost(t *testing.T, yaml string) (*seedHost, error) {
	cfg, err := config.Parse("milterd.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	res, err := setup.Open(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	b, err := setup.Build(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), res)
	if err != nil {
		res.Close()
		return nil, err
	}
	return &seedHost{cfg: cfg, res: res, b: b}, nil
}

var seedQueueID atomic.Int64

// seedTransaction is raw from user (envelope sender user@customer.test) to
// rcpt, as the milter glue hands it to the pipeline.
func seedTransaction(t *testing.T, user, rcpt string, raw []byte) *policy.Transaction {
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	tx := &policy.Transaction{ID: fmt.Sprint("T", seedQueueID.Add(1)), User: user, AuthType: "PLAIN", From: user + "@customer.test",
		Rcpts: []string{rcpt}, QueueID: fmt.Sprint("Q", seedQueueID.Load()), Message: bytes.NewReader(raw)}
	for name, vs := range hdr {
		for _, v := range vs {
			tx.Headers = append(tx.Headers, policy.Header{Name: name, Value: " " + v})
		}
	}
	return tx
}

// send runs a message through the host's pipeline, MAIL to the end of
// data and the commits: the final verdict.
func (h *seedHost) send(t *testing.T, user, rcpt string, raw []byte) policy.Verdict {
	ctx := context.Background()
	p, tx := h.b.State.Pipeline, seedTransaction(t, user, rcpt, raw)
	if v := p.Mail(ctx, tx); v.Action != policy.Accept {
		return v
	}
	if v := p.Rcpt(ctx, tx, rcpt); v.Action != policy.Accept {
		return v
	}
	p.Open(ctx, tx)
	defer p.Close(tx)
	return p.Message(ctx, ctx, tx)
}

// seedYAML is a smarthost named host on the store of storeYAML (its
// limits and postgres sections), with the campaign section's defaults
// (5 accounts) and, with rules, the shipped rules (whose walk the
// fingerprint taps).
func seedYAML(t *testing.T, host, stateDir, storeYAML string, rules bool, campaignExtra string) string {
	y := "state_dir: " + stateDir + "\nspool: {dir: " + stateDir + "}\nlog: {level: error}\n" +
		strings.Replace(storeYAML, "limits:\n", "limits:\n  host: "+host+"\n", 1) +
		"campaign: {shared_domains: [isp.test], suspend: false" + campaignExtra + "}\n"
	if rules {
		dir, _ := filepath.Abs("../rules")
		y += "rules: {dir: " + dir + ", watch: false}\n"
	}
	return y
}

// storeSeed is the seed st holds (offering another: the first writer's
// stays).
func storeSeed(t *testing.T, st limits.Store) campaign.Seed {
	raw, err := st.(limits.SeedStore).CampaignSeed(context.Background(), bytes.Repeat([]byte{0xee}, campaign.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := campaign.NewSeed(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two smarthosts (one with the shipped rules, whose walk the
// fingerprint taps, one without) on one shared store (a real Redis, a
// real PostgreSQL, one SQLite file), started at once on an empty store
// and sending their first messages at once, 8 rounds each: both use the
// one seed the store holds (not the published sampling), and a phishing
// run whose copies alternate between the two hosts is found at the 5th
// account in all, not at the 5th of each host (the 9th), and its 6th
// copy is held. Before (#28's seed_file): hosts given different seed
// files, or one without, shared no key and the run needed 5 accounts
// per host; hosts without one sampled as published.
func TestCampaignSeedFleet(t *testing.T) {
	t.Parallel()
	rd := harness.StartRedis(t)
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer rc.Close()
	pg := harness.StartPostgres(t)
	stores := map[string]func(t *testing.T, round int) (storeYAML, stateDir string){
		"sqlite": func(t *testing.T, _ int) (string, string) { return "limits:\n  store: sqlite\n", t.TempDir() },
		"redis": func(t *testing.T, _ int) (string, string) {
			if err := rc.FlushAll(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("limits:\n  store: redis\n  redis: {address: %q}\n", rd.Addr), ""
		},
		"postgres": func(_ *testing.T, round int) (string, string) {
			db := fmt.Sprint("seed", round)
			pg.SQL("postgres", "CREATE DATABASE "+db)
			return fmt.Sprintf("postgres: {dsn: %q}\nlimits:\n  store: postgres\n", pg.DSNFor("postgres", db)), ""
		},
	}
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			for round := range 8 {
				seedRound(t, round, kind, stores[kind])
			}
		})
	}
}

// seedRound is one round of TestCampaignSeedFleet on an empty store.
func seedRound(t *testing.T, round int, kind string, store func(t *testing.T, round int) (storeYAML, stateDir string)) {
	storeYAML, shared := store(t, round)
	var hosts [2]*seedHost
	var errs [2]error
	var wg sync.WaitGroup
	for i := range hosts {
		dir := shared
		if dir == "" {
			dir = t.TempDir()
		}
		y := seedYAML(t, fmt.Sprint("mx", i+1), dir, storeYAML, i == 0 && round%4 == 0, "")
		wg.Go(func() { hosts[i], errs[i] = startSeedHost(t, y) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s round %d: host %d: %v", kind, round, i+1, err)
		}
		defer hosts[i].res.Close()
	}
	// Copy c of the run comes from account c, through host c%2; the
	// first two at once (each host's first message: both race to
	// create the seed).
	send := func(c int) policy.Verdict {
		rcpt, raw := hamgen.Phish(c, c%2 == 1)
		return hosts[c%2].send(t, fmt.Sprint("c", c), rcpt, raw)
	}
	var first [2]policy.Verdict
	wg.Go(func() { first[0] = send(0) })
	wg.Go(func() { first[1] = send(1) })
	wg.Wait()
	cs := hosts[0].res.Store.(limits.CampaignStore)
	for c := range 6 {
		var v policy.Verdict
		if c < 2 {
			v = first[c]
		} else {
			v = send(c)
		}
		list, err := cs.Campaigns(context.Background(), time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c < 4 && (v.Action != policy.Accept || len(list) != 0):
			t.Fatalf("%s round %d: copy %d (host %d): %v, campaigns %+v", kind, round, c+1, c%2+1, v, list)
		case c == 4 && (v.Action != policy.Accept || len(list) != 1):
			t.Fatalf("%s round %d: the 5th account (host 1): %v, %d campaigns, want it established", kind, round, v, len(list))
		case c == 5 && v.Action != policy.Quarantine:
			t.Fatalf("%s round %d: the 6th copy (host 2): %v, want held", kind, round, v)
		}
	}
	want := storeSeed(t, hosts[0].res.Store)
	for i, h := range hosts {
		if s, ok := h.res.CampaignSeed.Known(); !ok || s != want || s == (campaign.Seed{}) {
			t.Fatalf("%s round %d: host %d samples with another seed than the store's (known %v, published %v)", kind, round, i+1, ok, s == (campaign.Seed{}))
		}
	}
}

// The store down when the first message needs the seed (PostgreSQL
// stopped after the host started): the message gets the on_error answer
// (the limits', first, with the whole store down) and the campaign count
// fails rather than sampling as published; the store back, the next
// message is counted under the store's seed, which is then kept: the
// store down again (and after a reload), the fingerprint needs no
// store. And the store
// reachable but the seed not (a smarthost role without the grant on
// campaign_seed): campaign.on_error answers (reject, here), and once
// granted, the next message passes. Before, a host without seed_file
// counted under the published sampling without a word.
func TestCampaignSeedStoreDown(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	owner := pg.Database("outguard", "milterd", "smarthost")
	store := func(dsn string) string {
		return fmt.Sprintf("postgres: {dsn: %q}\nlimits:\n  store: postgres\n", dsn)
	}
	h, err := startSeedHost(t, seedYAML(t, "mx1", t.TempDir(), store(owner), true, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer h.res.Close()
	rcpt, raw := hamgen.Phish(0, false)
	count := func() ([]string, error) {
		cc, err := h.b.Limits.Campaigns.CampaignCount(context.Background(), seedTransaction(t, "c0", rcpt, raw), "c0")
		if err != nil {
			return nil, err
		}
		return cc.Copy.Keys, nil
	}
	pg.Stop()
	if v := h.send(t, "c0", rcpt, raw); v.Action != policy.Tempfail || !strings.Contains(v.Reason, "failed") {
		t.Errorf("store down at the first message: %v, want tempfail (on_error)", v)
	}
	if keys, err := count(); err == nil {
		t.Fatalf("store down: counted with %d keys, want an error (the published sampling?)", len(keys))
	}
	if _, ok := h.res.CampaignSeed.Known(); ok {
		t.Fatal("a seed known without the store")
	}
	pg.Start()
	if v := h.send(t, "c0", rcpt, raw); v.Action != policy.Accept {
		t.Fatalf("store back: %v", v)
	}
	want := storeSeed(t, h.res.Store)
	if s, ok := h.res.CampaignSeed.Known(); !ok || s != want {
		t.Fatal("store back: not the store's seed")
	}
	keys, err := count()
	if err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	if again, err := count(); err != nil || !slices.Equal(again, keys) {
		t.Errorf("store down after the seed was read: %v (the seed is not kept)", err)
	}
	// A reload builds new engines on the same resources: the seed is
	// the process's, not the engine's.
	if h.b, err = setup.Build(h.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), h.res); err != nil {
		t.Fatal(err)
	}
	if again, err := count(); err != nil || !slices.Equal(again, keys) {
		t.Errorf("store down, reloaded: %v (the seed is not kept across a reload)", err)
	}
	pg.Start()

	// The smarthosts' role with docs/postgres.md's grants but the seed's.
	var grants []string
	doc, err := os.ReadFile("../docs/postgres.md")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(doc)) {
		stmt, _, _ := strings.Cut(line, "--")
		if stmt = strings.TrimSpace(stmt); strings.HasPrefix(stmt, "GRANT ") && strings.HasSuffix(stmt, "TO smarthost;") && !strings.Contains(stmt, "campaign_seed") &&
			!strings.Contains(stmt, "entries") && !strings.Contains(stmt, "quota") && !strings.Contains(stmt, " audit ") {
			grants = append(grants, stmt)
		}
	}
	pg.SQL("outguard", strings.Join(grants, "\n"))
	sh, err := startSeedHost(t, seedYAML(t, "mx2", t.TempDir(), store(pg.DSNFor("smarthost", "outguard")), false, ", on_error: reject"))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.res.Close()
	rcpt, raw = hamgen.Phish(1, false)
	if v := sh.send(t, "c1", rcpt, raw); v.Action != policy.Reject || !strings.Contains(v.Reason, "campaign failed") || !strings.Contains(v.Reason, "campaign_seed") {
		t.Errorf("the seed unreadable: %v, want campaign.on_error (reject)", v)
	}
	pg.SQL("outguard", "GRANT SELECT, INSERT ON campaign_seed TO smarthost")
	if v := sh.send(t, "c1", rcpt, raw); v.Action != policy.Accept {
		t.Errorf("granted: %v", v)
	}
	if s, ok := sh.res.CampaignSeed.Known(); !ok || s != want {
		t.Error("granted: not the fleet's seed")
	}
}
