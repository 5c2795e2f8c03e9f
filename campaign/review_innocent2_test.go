package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// reviewSendAs sends msgs[i] from accounts[i] to rcpts[i], a minute apart,
// and returns the campaigns found and the accounts suspended.
func reviewSendAs(t *testing.T, accounts []string, rcpts [][]string, msgs []string) (campaigns, suspended int) {
	t.Helper()
	r := newRig(t)
	for i, raw := range msgs {
		r.now = r.now.Add(time.Minute)
		r.send(t, accounts[i], rcpts[i], []byte(raw))
	}
	cs, err := r.store.Campaigns(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	sus, _ := r.store.Suspensions(context.Background())
	return len(cs), len(sus)
}

// oneEach sends, from n accounts, msg(i, account, recipient) each to one
// recipient of its own.
func oneEach(t *testing.T, n int, account string, msg func(i int, a, c string) string) (campaigns, suspended int) {
	t.Helper()
	var accts []string
	var rcpts [][]string
	var msgs []string
	for i := range n {
		a := fmt.Sprintf(account, i)
		c := fmt.Sprintf("rcpt%d@mail%d.example", i, i)
		accts = append(accts, a)
		rcpts = append(rcpts, []string{c})
		msgs = append(msgs, msg(i, a, c))
	}
	return reviewSendAs(t, accts, rcpts, msgs)
}

const macro = `Thank you for contacting our customer service team. We are sorry to hear
that your order did not arrive in the condition you expected. We have
arranged a replacement which will be shipped within two working days. You
do not need to return the damaged item. If you would like a refund instead
of the replacement, simply reply to this message and we will process it
straight away. You can follow the status of your case at any time on our
website https://www.shop.example/help/cases and our returns policy is at
https://www.shop.example/returns for your reference.`

// Six agents of one shop answer six customers with the same macro.
func TestReviewSupportMacro(t *testing.T) {
	if c, s := oneEach(t, 6, "agent%d@shop.example", func(i int, a, c string) string {
		return plain(a, c, fmt.Sprintf("Re: Your case %d", 1000+i), "Dear customer,\n\n"+macro+"\n\nBest regards,\nAgent "+fmt.Sprint(i))
	}); c != 0 || s != 0 {
		t.Fatalf("%d campaigns, %d agents suspended for one shop's support macro", c, s)
	}
}

// Six staff of one office send the same out-of-office reply (a client
// rule: no Auto-Submitted) to the people who wrote to them.
func TestReviewOutOfOfficeNoHeader(t *testing.T) {
	ooo := `Thank you for your message. Our office is closed for the holidays from
the twenty second of December until the fifth of January and emails will
not be read during this time. For urgent matters concerning your tax
return please call the emergency line on the number below, or write to
our main office address and one of our advisers will contact you as soon
as the office opens again in the new year.`
	if c, s := oneEach(t, 6, "adviser%d@taxoffice.example", func(_ int, a, c string) string {
		return plain(a, c, "Out of office", ooo)
	}); c != 0 || s != 0 {
		t.Fatalf("%d campaigns, %d staff suspended for one office's out-of-office text", c, s)
	}
}

const providerFooter = `You are receiving this newsletter because you are a member of our association
and agreed to receive news by email. You can change your preferences or
unsubscribe from this list at any time using the link below. This newsletter
was created with our free newsletter service for clubs and associations,
which helps volunteers keep in touch with their members.
Unsubscribe: https://newsletters.provider.example/u/abc
Create your own newsletter for free: https://www.provider.example/`

// Six small associations send their members a newsletter from one
// provider's template: each its own news, the provider's footer.
func TestReviewAssociationNewsletters(t *testing.T) {
	news := []string{
		"The choir will rehearse on Tuesday evenings again from next week. We are looking for tenors and basses and would love to welcome new singers. The spring concert takes place in the old church and tickets are available from the committee.",
		"Our allotment society held its annual meeting last weekend. The water supply will be turned on at the beginning of April and plot holders are asked to clear the paths. The seed swap will take place in the community hall.",
		"The football club thanks all parents who helped at the tournament. The under twelve team reached the final and played with great spirit. Training moves to the summer pitch after Easter and new kit can be ordered from the club shop.",
		"The local history group will visit the county archive in May. Members interested in the trip should tell the secretary by the end of the month. Our next talk covers the mills along the river and the families who ran them.",
		"The chess club welcomes beginners every Thursday at the library. The winter league ended with a close finish and the trophy goes to our youngest player this year. Volunteers are needed to help with the school chess programme.",
		"The cycling group plans a series of gentle rides through the valley this summer. Routes are suitable for families and everyone is welcome to join. Please check your brakes and tyres before the first ride and bring water.",
	}
	var accts []string
	var rcpts [][]string
	var msgs []string
	for i := range 6 {
		a := fmt.Sprintf("secretary@club%d.example", i)
		var rs []string
		for j := range 30 {
			rs = append(rs, fmt.Sprintf("member%d@isp%d.example", j, i*100+j))
		}
		accts = append(accts, a)
		rcpts = append(rcpts, rs)
		msgs = append(msgs, plain(a, "members@club.example", "Club news", news[i]+"\n\n"+providerFooter))
	}
	if c, s := reviewSendAs(t, accts, rcpts, msgs); c != 0 || s != 0 {
		t.Fatalf("%d campaigns, %d associations suspended for one provider's newsletter template", c, s)
	}
}
