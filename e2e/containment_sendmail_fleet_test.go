package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"outguard/containment"
	"outguard/internal/harness"
	"outguard/limits"
)

// sendmailHost is one Sendmail smarthost of a fleet: a real Sendmail with
// its in-process milter, and milterd's containment sweep on its queue.
type sendmailHost struct {
	s   *harness.Stack
	q   *containment.Sendmail
	log *harness.LogBuffer
	st  limits.Store
}

func startSendmailHost(t *testing.T, text string) *sendmailHost {
	s, cfg, res := harness.ConfigStack(t, text, harness.MTAConfig{Sendmail: true})
	bin := filepath.Join(harness.SendmailRoot, "usr/libexec/sendmail/sendmail")
	// As harness.SendmailQueueRun: the test machine's host name has no
	// dot, which makes a Sendmail started outside a UTS namespace sleep.
	h := &sendmailHost{s: s, st: res.Store, log: &harness.LogBuffer{}, q: &containment.Sendmail{Config: s.Postfix.Dir + "/sendmail.cf",
		Command: []string{"unshare", "--uts", "sh", "-c", `hostname 127.0.0.1 && exec "$@"`, "sh", bin}}}
	c := containment.New(containment.Options{Store: res.Store, Host: cfg.HostName(), Queue: h.q, Action: containment.Hold, Log: harness.Logger(t, h.log)})
	runSweep(t, c)
	return h
}

// queueThree sends three of alice's messages to a receiver answering 4xx
// and returns their ids once all three are in Sendmail's queue.
func (h *sendmailHost) queueThree(t *testing.T) []string {
	t.Helper()
	sendThree(t, h.s)
	var ids []string
	waitFor(t, "three messages queued", func() bool {
		l, err := h.q.List(context.Background())
		ids = ids[:0]
		for id := range l {
			ids = append(ids, id)
		}
		return err == nil && len(ids) == 3
	})
	sort.Strings(ids)
	return ids
}

// TestQueueFollowsTheSuspensionOnTwoSendmails: two Sendmail smarthosts
// (each with its in-process milter and its sweep) share a store; each
// has three of alice's messages queued behind a receiver answering 4xx.
// Alice is suspended (as milterctl does, in the shared store): within 5 s
// each host has quarantined its own three, and no other host's ids
// appear in its log; a queue run on each delivers none though the
// receivers accept again.
func TestQueueFollowsTheSuspensionOnTwoSendmails(t *testing.T) {
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			text := storeConfig(t, kind, "  on_suspend_queued: hold\n")
			h1 := startSendmailHost(t, text+"  host: mx1\n")
			h2 := startSendmailHost(t, text+"  host: mx2\n")
			ids1, ids2 := h1.queueThree(t), h2.queueThree(t)
			now := time.Now()
			if ok, err := h1.st.Suspend(context.Background(), limits.Suspension{Key: harness.User, Since: now, By: "operator", Reason: "phished"}, now); err != nil || !ok {
				t.Fatalf("suspend: %v %v", ok, err)
			}
			for _, c := range []struct {
				h   *sendmailHost
				ids []string
				not []string
			}{{h1, ids1, ids2}, {h2, ids2, ids1}} {
				var held []string
				for time.Since(now) < 5*time.Second {
					if held = inHold(t, c.h.q); len(held) == 3 {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if fmt.Sprint(held) != fmt.Sprint(c.ids) {
					t.Errorf("5 s after the suspension, held %v; want %v\n%s", held, c.ids, c.h.log.String())
				}
				for _, id := range c.not {
					if strings.Contains(c.h.log.String(), id) {
						t.Errorf("a host acted on the other's id %s:\n%s", id, c.h.log.String())
					}
				}
			}
			for _, h := range []*sendmailHost{h1, h2} {
				h.s.Sink.Answer("later@remote.test", 0, nil)
				harness.SendmailQueueRun(t, h.s.Postfix)
				if n := toLater(h.s.Sink.Messages()); n != 0 {
					t.Errorf("a queue run delivered %d quarantined messages", n)
				}
			}
		})
	}
}
