package hamgen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The template families below are innocent accounts that send one text
// between them, the cases a campaign count across accounts must not take
// for a campaign (docs/suspension.md, "What does not count"): many small
// shops on one shop software, many sites on one CMS, one company's
// shared auto-reply, a petition, a school's PDF passed on by parents.
// Each Message's Account is the SASL login and From the envelope sender.

// header writes a message's header; extra are further fields ("Name: value").
func header(b *strings.Builder, from, toName, to, subject string, seq int, extra ...string) {
	fmt.Fprintf(b, "From: %s\r\nTo: %s <%s>\r\nSubject: %s\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@%s>\r\nMIME-Version: 1.0\r\n",
		from, toName, to, subject, seq, strings.TrimSuffix(strings.SplitN(from, "@", 2)[1], ">"))
	for _, x := range extra {
		b.WriteString(x + "\r\n")
	}
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

var (
	shopNames = []string{"Kaffeerösterei Lange", "Wollstube", "Bike Parts Berlin", "Teehaus am Markt", "Papeterie Klein", "Gartenwerk", "Spielzeug Sonne", "Hofladen Becker", "Kerzenzauber", "Vinyl Corner", "Seifenmanufaktur", "Buchhandlung Wolf"}
	products  = []string{"Espresso beans 1 kg", "Merino yarn, blue", "Brake pads (pair)", "Green tea sampler", "Notebook A5 dotted", "Tomato seeds", "Wooden train set", "Organic honey 500 g", "Beeswax candle", "Jazz LP remastered", "Lavender soap", "Paperback novel"}
)

// ShopConfirmation is shop s's order confirmation to its customer i, in
// the template of one shop software (WooCommerce's "processing order"
// mail): the shop's own name and links, the customer's name, order,
// products and address. The shop logs in as its own address.
func ShopConfirmation(seed uint64, s, i int) Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, uint64(s)<<20|uint64(i)))}
	domain := fmt.Sprintf("shop%d.example", s)
	account := "orders@" + domain
	shop := shopNames[s%len(shopNames)]
	name, addr := g.person()
	first := strings.Fields(name)[0]
	order := 1000 + g.r.IntN(9000)
	p := products[(s+g.r.IntN(3))%len(products)]
	q := 1 + g.r.IntN(3)
	price := 5 + g.r.IntN(60)
	text := fmt.Sprintf(`Hi %s,

Just to let you know — we've received your order #%d, and it is now being processed:

[Order #%d] (November 30, 2026)

Product	Quantity	Price
%s	%d	%d.00 €
Subtotal:	%d.00 €
Shipping:	Flat rate
Payment method:	Direct bank transfer
Total:	%d.90 €

Our bank details
%s
Bank: Sparkasse
IBAN: DE%d
Please use the order ID as the payment reference. Your order will not be shipped until the funds have cleared in our account.

Billing address
%s
%s %d
%d Berlin

You can view your order and its status in your account: https://%s/my-account/view-order/%d/

Thanks for using %s!
`, first, order, order, p, q, price*q, price*q, price*q+4, shop, 100000000+g.r.IntN(899999999), name, g.pick(objects), 1+g.r.IntN(90), 10000+g.r.IntN(4000), domain, order, domain)
	html := fmt.Sprintf(`<html><body><div id="wrapper"><h1>Thank you for your order</h1><p>Hi %s,</p><p>Just to let you know &mdash; we've received your order #%d, and it is now being processed:</p><h2><a href="https://%s/wp-admin/post.php?post=%d&amp;action=edit">[Order #%d]</a> (November 30, 2026)</h2><table><tr><th>Product</th><th>Quantity</th><th>Price</th></tr><tr><td>%s</td><td>%d</td><td>%d.00 &euro;</td></tr></table><h2>Our bank details</h2><p>%s</p><p>Please use the order ID as the payment reference. Your order will not be shipped until the funds have cleared in our account.</p><p>You can view your order and its status in your account: <a href="https://%s/my-account/view-order/%d/">my account</a></p><p>Thanks for using <a href="https://%s">%s</a>!</p></div></body></html>`,
		first, order, domain, order, order, p, q, price*q, shop, domain, order, domain, domain)
	var b strings.Builder
	header(&b, shop+" <"+account+">", name, addr, fmt.Sprintf("Your %s order has been received!", shop), order)
	fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"w%d\"\r\n\r\n--w%d\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n--w%d\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n--w%d--\r\n", order, order, crlf(text), order, html, order)
	return Message{Account: account, From: account, Rcpts: []string{addr}, Raw: []byte(b.String()), Kind: "shop"}
}

// PasswordReset is WordPress site s's password-reset notice to its user
// i (wp-includes/user.php's text). The site's hosting account logs in
// without a domain; WordPress sends as wordpress@ its own domain.
func PasswordReset(seed uint64, s, i int) Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, uint64(s)<<20|uint64(i)|1<<40))}
	domain := fmt.Sprintf("site%d.example", s)
	from := "wordpress@" + domain
	name, addr := g.person()
	user := strings.ToLower(strings.Fields(name)[0]) + fmt.Sprint(g.r.IntN(100))
	key := fmt.Sprintf("%x", g.r.Uint64())
	text := fmt.Sprintf(`Someone has requested a password reset for the following account:

Site Name: %s

Username: %s

If this was a mistake, ignore this email and nothing will happen.

To reset your password, visit the following address:

https://www.%s/wp-login.php?action=rp&key=%s&login=%s&wp_lang=en_US

This password reset request originated from the IP address 198.51.100.%d.
`, strings.ToUpper(domain[:1])+domain[1:strings.Index(domain, ".")], user, domain, key, user, g.r.IntN(250))
	var b strings.Builder
	header(&b, "WordPress <"+from+">", name, addr, fmt.Sprintf("[Site %d] Password Reset", s), g.r.IntN(1e9))
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s", crlf(text))
	return Message{Account: fmt.Sprintf("web%d", s), From: from, Rcpts: []string{addr}, Raw: []byte(b.String()), Kind: "wordpress"}
}

// AutoReply is the holiday auto-reply company c configured for all its
// staff (RFC 3834: Auto-Submitted: auto-replied, In-Reply-To), sent by
// staff member k's account to correspondent i who wrote to them.
func AutoReply(seed uint64, c, k, i int) Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, uint64(c)<<30|uint64(k)<<20|uint64(i)|2<<40))}
	domain := fmt.Sprintf("firma%d.example", c)
	account := fmt.Sprintf("staff%d@%s", k, domain)
	name, addr := g.person()
	text := fmt.Sprintf(`Thank you for your message.

Our office is closed for the holidays from 23 December to 2 January. Your e-mail will not be forwarded and will be answered after our return.
In urgent cases please contact our emergency service at +49 30 1234567 or write to notdienst@%s.

We wish you a merry Christmas and a happy new year!

Firma %d GmbH
https://www.%s
`, domain, c, domain)
	var b strings.Builder
	header(&b, "<"+account+">", name, addr, "Automatic reply: "+g.pick(objects), g.r.IntN(1e9),
		"Auto-Submitted: auto-replied", fmt.Sprintf("In-Reply-To: <%x@mail.example>", g.r.Uint64()), "X-Auto-Response-Suppress: All")
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s", crlf(text))
	return Message{Account: account, From: account, Rcpts: []string{addr}, Raw: []byte(b.String()), Kind: "autoreply"}
}

const petitionText = `I am writing to you as a resident of your constituency to ask you to oppose the planned closure of the maternity ward at the district hospital.
The next maternity ward would be more than fifty kilometres away, and in winter the road over the pass is often closed.
Expectant mothers and their families deserve safe care close to home. I ask you to raise this in the health committee and to vote against the closure when the hospital plan comes before the state parliament.
Thank you for your time. I look forward to your answer.`

// Petition is customer i's copy of a petition letter to the constituency's
// representative (and, now and then, a copy to the local paper): the same
// text and recipients from every customer, with their own greeting and
// name.
func Petition(seed uint64, i int) Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, uint64(i)|3<<40))}
	me, _ := g.person()
	account := fmt.Sprintf("citizen%d@isp.example", i)
	rcpts := []string{"anna.weber@parliament.example"}
	if i%3 == 0 {
		rcpts = append(rcpts, "letters@district-news.example")
	}
	greet := []string{"Dear Ms Weber,", "Dear Mrs Weber,", "Dear Anna Weber,", "Hello Ms Weber,"}[i%4]
	text := greet + "\n\n" + petitionText + "\n\nYours sincerely,\n" + me + "\n"
	var b strings.Builder
	header(&b, me+" <"+account+">", "Anna Weber", rcpts[0], "Keep the maternity ward open", g.r.IntN(1e9))
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s", crlf(text))
	return Message{Account: account, From: account, Rcpts: rcpts, Raw: []byte(b.String()), Kind: "petition"}
}

// schoolPDF is the school's letter to parents, the same bytes for every
// parent who downloaded it.
var schoolPDF = func() []byte {
	var b strings.Builder
	b.WriteString("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	for i := range 40 {
		fmt.Fprintf(&b, "%d 0 obj << /Length 60 >> stream\nBT /F1 12 Tf 72 %d Td (School trip to the zoo on Friday, consent form) Tj ET\nendstream endobj\n", i+3, 700-i*12)
	}
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return []byte(b.String())
}()

// SchoolLetter is parent i passing the school's PDF on: to the teacher
// with the signed form (the same recipient for every parent), or to a
// grandparent or the other parent (their own), with a short note of
// their own.
func SchoolLetter(seed uint64, i int) Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, uint64(i)|4<<40))}
	me, _ := g.person()
	account := fmt.Sprintf("parent%d@isp.example", i)
	rcpt, toName := "k.richter@grundschule.example", "Karin Richter"
	if i%2 == 1 {
		toName, rcpt = g.person()
	}
	notes := []string{"Hi, here is the form for the zoo trip.", "Attached the letter from school, see you Friday.", "Signed form attached. Thanks!", "FYI, the school trip letter.", "Hello Ms Richter, please find the form attached.", "Here it is."}
	text := notes[g.r.IntN(len(notes))] + "\n\n" + strings.Fields(me)[0] + "\n"
	var b strings.Builder
	header(&b, me+" <"+account+">", toName, rcpt, "Zoo trip", g.r.IntN(1e9))
	enc := base64.StdEncoding.EncodeToString(schoolPDF)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"p%d\"\r\n\r\n--p%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--p%d\r\nContent-Type: application/pdf; name=\"zoo-trip.pdf\"\r\nContent-Disposition: attachment; filename=\"zoo-trip.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--p%d--\r\n",
		i, i, crlf(text), i, strings.Join(lines, "\r\n"), i)
	return Message{Account: account, From: account, Rcpts: []string{rcpt}, Raw: []byte(b.String()), Kind: "school"}
}

// Families is the innocent template families above at the rate the
// corpus draws them: in each of rounds rounds, 8 shops' confirmations,
// 8 sites' resets, 6 staff's auto-replies of one company, 8 customers'
// petition letters and 8 parents' school letters, spread over span.
func Families(seed uint64, rounds int, span time.Duration) []Message {
	r := rand.New(rand.NewPCG(seed, 5))
	var out []Message
	for round := range rounds {
		add := func(m Message) {
			m.At = time.Duration(r.Int64N(int64(span)))
			out = append(out, m)
		}
		for s := range 8 {
			for i := range 1 + r.IntN(3) {
				add(ShopConfirmation(seed, round*8+s, i))
				add(PasswordReset(seed, round*8+s, i))
			}
		}
		for k := range 6 {
			for i := range 1 + r.IntN(3) {
				add(AutoReply(seed, round, k, i))
			}
		}
		for i := range 8 {
			add(Petition(seed+uint64(round), round*8+i))
			add(SchoolLetter(seed+uint64(round), round*8+i))
		}
	}
	return out
}
