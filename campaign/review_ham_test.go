package campaign

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/policy"
)

// reviewSend sends one message per account, a minute apart, and returns
// how many campaigns the store holds and how many accounts are suspended.
func reviewSend(t *testing.T, msgs []string) (campaigns, suspended int) {
	t.Helper()
	r := newRig(t)
	for i, raw := range msgs {
		r.now = r.now.Add(time.Minute)
		rcpt := fmt.Sprintf("rcpt%d@remote%d.example", i, i)
		r.send(t, fmt.Sprintf("acct%d@isp.example", i), []string{rcpt}, []byte(raw))
	}
	cs, err := r.store.Campaigns(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	sus, _ := r.store.Suspensions(context.Background())
	return len(cs), len(sus)
}

func plain(from, to, subject, body string) string {
	return "From: " + from + "\nTo: " + to + "\nSubject: " + subject + "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + body + "\n"
}

// chain is a text people forward to friends: a chain letter, a
// petition, a joke, a warning about a scam.
const chain = `Please share this with everyone you know. The animal shelter on the
river road is closing at the end of the month unless the town council
renews its lease. The volunteers have cared for hundreds of dogs and cats
over the years and have nowhere else to go. If you want to help, sign the
petition at the town hall or write to the mayor before the council meets.
Every voice counts and the council has promised to read every letter.`

// TestReviewForwardMarkers: five customers forward the same chain letter,
// each with the forward separator of their mail client (Apple Mail,
// Thunderbird, Gmail and Outlook in German) and a word of their own: the
// forwarded text is someone else's, as with Gmail's English separator.
func TestReviewForwardMarkers(t *testing.T) {
	seps := []string{
		"Begin forwarded message:\n\nFrom: Shelter <info@shelter.example>\nSubject: Help\nDate: 3 November 2026\nTo: friends@shelter.example\n\n",
		"-------- Forwarded Message --------\nSubject: \tHelp\nDate: \tMon, 3 Nov 2026\nFrom: \tShelter <info@shelter.example>\n\n",
		"---------- Weitergeleitete Nachricht ---------\nVon: Shelter <info@shelter.example>\nDate: Mo., 3. Nov. 2026\nSubject: Help\n\n",
		"-------- Weitergeleitete Nachricht --------\nBetreff: \tHelp\nDatum: \tMon, 3 Nov 2026\nVon: \tShelter <info@shelter.example>\n\n",
		"Anfang der weitergeleiteten Nachricht:\n\nVon: Shelter <info@shelter.example>\nBetreff: Help\n\n",
		"-----Ursprüngliche Nachricht-----\nVon: Shelter <info@shelter.example>\nGesendet: Montag, 3. November 2026\nBetreff: Help\n\n",
	}
	var msgs []string
	for i, s := range seps {
		msgs = append(msgs, plain(fmt.Sprintf("p%d@isp.example", i), "friend@remote.example", "Fwd: Help", "FYI\n\n"+s+chain))
	}
	if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
		t.Fatalf("%d campaigns, %d customers suspended for forwarding a chain letter", c, s)
	}
	// Thunderbird's HTML forward.
	msgs = nil
	for i := range 6 {
		msgs = append(msgs, strings.Replace(plain(fmt.Sprintf("p%d@isp.example", i), "friend@remote.example", "Fwd: Help",
			`<html><body><p>FYI</p><div class="moz-forward-container"><br><br>-------- Forwarded Message --------<table><tr><td>From:</td><td>Shelter</td></tr></table><br><p>`+chain+`</p></div></body></html>`),
			"text/plain", "text/html", 1))
	}
	if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
		t.Fatalf("HTML: %d campaigns, %d customers suspended for forwarding a chain letter", c, s)
	}
	_ = policy.Accept
}
