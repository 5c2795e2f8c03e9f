package policy

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// counter is a Committer that counts the messages it was asked to commit
// (the campaign's copies, a complaint reference) and answers v, err.
type counter struct {
	name      string
	v         Verdict
	err       error
	committed *[]string
}

func (c counter) Name() string { return c.name }

func (c counter) Commit(ctx context.Context, t *Transaction) (Verdict, error) {
	*c.committed = append(*c.committed, c.name)
	return c.v, c.err
}

// A commit that refuses the message (the limits' tempfail for a limit
// crossed, a store failing with on_error tempfail, a reject) ends the
// commits: a later commit would count as sent a message the MTA refused
// (a campaign's copy), and a later quarantine would turn the refusal into
// an accept that holds it.
func TestRefusingCommitStopsLaterCommits(t *testing.T) {
	cases := []struct {
		name  string
		first Entry
		want  Action
		ran   []string
	}{
		{"tempfail", Entry{counter{name: "limits", v: New(Tempfail, "limit reached")}, Tempfail}, Tempfail, []string{"limits"}},
		{"store failure, on_error tempfail", Entry{counter{name: "limits", err: errors.New("store down")}, Tempfail}, Tempfail, []string{"limits"}},
		{"reject", Entry{counter{name: "limits", v: New(Reject, "suspended")}, Tempfail}, Reject, []string{"limits"}},
		{"store failure, on_error accept", Entry{counter{name: "limits", err: errors.New("store down")}, Accept}, Quarantine, []string{"limits", "campaign", "stamper"}},
		{"accept", Entry{counter{name: "limits"}, Tempfail}, Quarantine, []string{"limits", "campaign", "stamper"}},
	}
	for _, tc := range cases {
		var ran []string
		first := tc.first
		c := first.Check.(counter)
		c.committed = &ran
		first.Check = c
		p := NewPipeline(slog.New(slog.DiscardHandler), first,
			Entry{counter{name: "campaign", v: Verdict{Action: Quarantine}, committed: &ran}, Tempfail},
			Entry{counter{name: "stamper", committed: &ran}, Tempfail})
		v := p.Message(context.Background(), context.Background(), &Transaction{})
		if v.Action != tc.want || len(ran) != len(tc.ran) {
			t.Errorf("%s: got %v, commits %q, want %v, %q", tc.name, v.Action, ran, tc.want, tc.ran)
			continue
		}
		for i := range ran {
			if ran[i] != tc.ran[i] {
				t.Errorf("%s: commits %q, want %q", tc.name, ran, tc.ran)
			}
		}
	}
}
