package complaint

import (
	"strings"
	"testing"
	"time"
)

// A reference is a replayable token: a customer who received the
// victim's mail months ago (or a Maildir backlog) must not add to the
// victim's complaints of today. A report about a message sent longer
// than MaxCountedAge ago is kept and listed, naming the account, but
// counted for no one; one just inside the bound still counts.
func TestReviewOldReferenceNotCounted(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	raw := report(t, "arf-full.eml", ref)
	old := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time.Add(30 * 24 * time.Hour) }}
	c := old.Attribute(raw)
	if c.Account != "" || c.Problem == "" || !strings.Contains(c.Problem, aliceRef.Account) || c.QueueID != aliceRef.QueueID {
		t.Errorf("a reference 30 days old: %+v", c)
	}
	fresh := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time.Add(time.Hour) }}
	if c := fresh.Attribute(raw); c.Account != aliceRef.Account || c.Problem != "" {
		t.Errorf("a reference inside the bound: %+v", c)
	}
}

// The bound itself: a message exactly MaxCountedAge old still counts, one
// second more does not.
func TestReviewOldReferenceBound(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	raw := report(t, "arf-full.eml", ref)
	for age, want := range map[time.Duration]string{MaxCountedAge: aliceRef.Account, MaxCountedAge + time.Second: ""} {
		in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", Now: func() time.Time { return aliceRef.Time.Add(age) }}
		if c := in.Attribute(raw); c.Account != want {
			t.Errorf("%v old: account %q, want %q (%s)", age, c.Account, want, c.Problem)
		}
	}
}
