package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// Review rtool of the tool texts added in #28 (QuickBooks' older texts, a
// Xerox scanner's scan to e-mail; that version also made an asset host's
// link alone no "any", since undone). "Before" is the tree without them.
// What it reproduced is mended: a tool that sends files keeps its text
// the sender's when a copy points elsewhere (Collector.toolFiles), the
// scanners' own links are toolLinks, not asset hosts.

const rtXeroxAltaLink = "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n" +
	"Attachment File Type: pdf, Multi-Page\n\nMultifunction Printer Location: \nMultifunction Printer Name: Xerox AltaLink C8045\n\n\n" +
	"For more information on Xerox products and solutions, please visit %s\n"

// rtAt is toolAt with the message of copy i (customer/bot i).
func rtAt(t *testing.T, subject string, msg func(i int) (ct, body string)) int {
	return foundAt(t, 12, func(i int) (string, []byte) {
		rcpt := fmt.Sprintf("client%d@remote%d.example", i, i%7)
		ct, body := msg(i)
		return rcpt, []byte(fmt.Sprintf("From: <c%d@isp.example>\nTo: <%s>\nSubject: %s\nMIME-Version: 1.0\nContent-Type: %s\n\n%s\n", i, rcpt, subject, ct, body))
	})
}

// anyAccount: rtCheck's want for a run found at any account of the 12.
const anyAccount = -1

// rtCheck wants each of cases (rtAt, subject) found at account want (0:
// never in 12; anyAccount: at one of them).
func rtCheck(t *testing.T, subject string, want int, cases map[string]func(i int) (string, string)) {
	t.Helper()
	for name, msg := range cases {
		n := rtAt(t, subject, msg)
		t.Logf("%s: found at account %d (0: never)", name, n)
		if want == anyAccount && n == 0 || want != anyAccount && n != want {
			t.Errorf("%s: found at account %d, want %d (0: never in 12, -1: found)", name, n, want)
		}
	}
}

// TestReviewRtoolInnocentVariants: twelve customers each sending their own
// PDF under the new tool texts as devices and QuickBooks write them; want
// no campaign in 12.
func TestReviewRtoolInnocentVariants(t *testing.T) {
	cases := map[string]func(i int) (string, string){
		"Xerox, HTML part": func(i int) (string, string) {
			return withParts("mixed", "<html><body><p>Please open the attached document. It was sent to you using a Xerox multifunction printer.</p>"+
				"<p>Attachment File Type: pdf, Multi-Page</p><p>Multifunction Printer Location: <br>Multifunction Printer Name: Xerox AltaLink C8045</p>"+
				`<p>For more information on Xerox products and solutions, please visit <a href="http://www.xerox.com">http://www.xerox.com</a></p></body></html>`, true, pdfPart(i))
		},
		"Xerox, quoted-printable soft breaks": func(i int) (string, string) {
			qp := "Please open the attached document. It was sent to you using a Xerox multif=\nunction printer.\n\n" +
				"Attachment File Type: pdf, Multi-Page\n\nMultifunction Printer Location: =\n\nMultifunction Printer Name: Xerox AltaLink C8045\n\n\n" +
				"For more information on Xerox products and solutions, please visit http://w=\nww.xerox.com\n"
			return "multipart/mixed; boundary=zz", "--zz\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\n" + qp + "\n--zz\n" + pdfPart(i) + "\n--zz--"
		},
		"Xerox, location and page count": func(i int) (string, string) {
			return withParts("mixed", "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n"+
				fmt.Sprintf("Attachment File Type: PDF\nNumber of Images: %d\n\nMultifunction Printer Location: Reception, ground floor\nMultifunction Printer Name: XRX9C934E%04X\n\n\n", i+2, i*7919)+
				"For more information on Xerox products and solutions, please visit http://www.xerox.com\n", false, pdfPart(i))
		},
		"QuickBooks Desktop, HTML": func(i int) (string, string) {
			return withParts("mixed", fmt.Sprintf("<html><body><div>Dear Customer :</div><div><br></div><div>Your invoice is attached.&nbsp; Please remit payment at your earliest convenience.</div>"+
				"<div><br></div><div>Thank you for your business - we appreciate it very much.</div><div><br></div><div>Sincerely,</div><div>Company %d</div></body></html>", i), true, pdfPart(i))
		},
		"QuickBooks estimate, named greeting": func(i int) (string, string) {
			return withParts("mixed", fmt.Sprintf("Dear Customer %d :\n\nPlease review the estimate below.  Feel free to contact us if you have any questions.\r\nWe look forward to working with you.\r\n\r\nSincerely,\r\nCompany %d\r\n", i, i), false, pdfPart(i))
		},
	}
	rtCheck(t, "Scan from a Xerox Multifunction Printer", 0, cases)
}

// rtOwnPage is a phishing page of copy i's own on SharePoint (a
// compromised account's own OneDrive: a page site, a target per copy).
func rtOwnPage(i int) string {
	return fmt.Sprintf("https://contoso%d-my.sharepoint.com/:b:/g/personal/user%d_contoso%d_com/EaB%xQ", i, i, i, uint64(i+1)*0x9e3779b97f4a7c15)
}

// TestReviewRtoolLureUnderNewTexts: phishing runs that were found (at the
// 5th account) before the tool texts: cut as a notice, salted with each
// copy's targets, the verbatim fake Xerox scans (AltaLink, WorkCentre
// Pro) and a fake QuickBooks invoice with the link after the whole text,
// each with a SharePoint page of the sending account's own, were never
// found in 12 (review rtool); found at the 5th again since. Held then:
// a short link per copy to one page (bit.ly: one target), a lure of 13
// own words, the link between the QuickBooks sentences.
func TestReviewRtoolLureUnderNewTexts(t *testing.T) {
	cases := map[string]func(i int) (string, string){
		// The classic fake scan: the Xerox text verbatim, "view it"
		// and a link to each copy's own page.
		"fake Xerox scan, own page per copy": func(i int) (string, string) {
			return "text/plain", strings.Replace(fmt.Sprintf(rtXeroxAltaLink, "http://www.xerox.com"), "\n\n", "\n\nView document: "+rtOwnPage(i)+"\n\n", 1)
		},
		"fake Xerox WorkCentre Pro scan, own page per copy": func(i int) (string, string) {
			return "text/plain", "Please open the attached document. It was scanned and sent to you using a Xerox WorkCentre Pro.\n\n" +
				"Sent by: Guest\nNumber of Images: 1\nAttachment File Type: PDF\n\nWorkCentre Pro Location: machine location not set\nDevice Name: XRX0000AA70B1C\n\nOpen: " + rtOwnPage(i) + "\n\n" +
				"For more information on Xerox products and solutions, please visit http://www.xerox.com\n"
		},
		// One phishing page, a free short link to it per copy.
		"fake Xerox scan, one page behind a short link per copy": func(i int) (string, string) {
			return "text/plain", strings.Replace(fmt.Sprintf(rtXeroxAltaLink, "http://www.xerox.com"), "\n\n", fmt.Sprintf("\n\nView document: https://bit.ly/3Xr%04dq\n\n", i*7919%10000), 1)
		},
		// A lure of its own words (13) with the Xerox sentence added.
		"own lure plus Xerox sentence, own page per copy": func(i int) (string, string) {
			return "text/plain", "Your mailbox storage is full. Sign in to review the scanned notice and keep your mail.\n\n" + rtOwnPage(i) + "\n\n" +
				"Please open the attached document. It was sent to you using a Xerox multifunction printer.\n"
		},
		// The link after the whole text (between its sentences the
		// text is not cut: found).
		"fake QuickBooks Desktop invoice, link after, own page per copy": func(i int) (string, string) {
			return "text/plain", "Dear Customer :\n\nYour invoice is attached. Please remit payment at your earliest convenience.\n" +
				"Thank you for your business - we appreciate it very much.\n\nView invoice: " + rtOwnPage(i) + "\n\nSincerely,\n\nAccounts Receivable\n"
		},
		"fake QuickBooks Desktop invoice, own page per copy": func(i int) (string, string) {
			return "text/plain", "Dear Customer :\n\nYour invoice is attached. Please remit payment at your earliest convenience.\n\nView invoice: " + rtOwnPage(i) + "\n\n" +
				"Thank you for your business - we appreciate it very much.\n\nSincerely,\n\nAccounts Receivable\n"
		},
	}
	rtCheck(t, "Scan from a Xerox Multifunction Printer", anyAccount, cases)
}

// TestReviewRtoolAssetHostCallToAction: a QR code (quishing) hosted on an
// asset host (cdn-images.mailchimp.com: any free Mailchimp account
// uploads there) under a tool text, with a decoy file per copy: the
// asset link is "any", the text plain, found at the 5th. With an asset
// host's link alone no "any" (the reviewed version), the decoy file was
// the only target, one per copy: never found (review rtool).
func TestReviewRtoolAssetHostCallToAction(t *testing.T) {
	qr := `<p><img src="https://cdn-images.mailchimp.com/a1b2c3d4e5f6/images/pay-qr.png" width="200"></p>`
	cases := map[string]func(i int) (string, string){
		"Xerox text, QR on cdn-images.mailchimp.com, decoy PDF per copy": func(i int) (string, string) {
			return withParts("mixed", "<html><body><p>Please open the attached document. It was sent to you using a Xerox multifunction printer.</p>"+qr+
				"<p>Scan to view</p><p>Attachment File Type: pdf, Multi-Page</p><p>Multifunction Printer Location: <br>Multifunction Printer Name: Xerox AltaLink C8045</p>"+
				`<p>For more information on Xerox products and solutions, please visit <a href="http://www.xerox.com">http://www.xerox.com</a></p></body></html>`, true, pdfPart(i))
		},
		"QuickBooks statement text, QR on cdn-images.mailchimp.com, no decoy (sanity)": func(i int) (string, string) {
			return "text/html", "<html><body><p>Your statement is attached.  Please remit payment at your earliest convenience.<br>Thank you for your business - we appreciate it very much.</p>" +
				qr + "<p>Scan to pay</p></body></html>"
		},
		"QuickBooks statement text, QR on cdn-images.mailchimp.com, decoy PDF per copy": func(i int) (string, string) {
			return withParts("mixed", "<html><body><p>Your statement is attached.  Please remit payment at your earliest convenience.<br>Thank you for your business - we appreciate it very much.</p>"+
				qr+"<p>Scan to pay</p></body></html>", true, pdfPart(i))
		},
		"Windows text, QR on cdn-images.mailchimp.com, decoy PDF per copy": func(i int) (string, string) {
			return withParts("mixed", "<html><body><p>The message is ready to be sent with the following file or link attachments:</p><p>statement.pdf</p>"+qr+
				"<p>Note: To protect against computer viruses, e-mail programs may prevent sending or receiving certain types of file attachments.&nbsp; "+
				"Check your e-mail security settings to determine how attachments are handled.</p></body></html>", true, pdfPart(i))
		},
	}
	rtCheck(t, "Statement", anyAccount, cases)
}

// TestReviewRtoolQuickBooksPinned pins a limit (docs/suspension.md,
// "Known limits at a glance"): a tool that sends files (toolTexts) whose
// copy also points elsewhere (a link, a number, an address) keeps its
// text the sender's, so that a lure in the tool's words with a page or a
// phone number of each copy's own is found (TestReviewRtoolLureUnderNewTexts).
// QuickBooks' invoice text with each company's own phone number under it,
// or with its own "View and pay" link (if Desktop adds one: Online's
// invoices are sent from Intuit's servers, not through a customer's
// smarthost), is then one text again: a campaign at the 5th, as before
// the text was listed. So is Online's "details here" text
// (linkToolTexts) with its own link: the links are all intuit.com's, one
// target (as a platform, each invoice its own, a fraudulent-invoice run
// with a link per copy was never found: review rtool2).
func TestReviewRtoolQuickBooksPinned(t *testing.T) {
	tok := func(i int) string { return fmt.Sprintf("%x", uint64(i+1)*0x9e3779b97f4a7c15) }
	cases := map[string]func(i int) (string, string){
		"QuickBooks Desktop, named greeting, signature and phone": func(i int) (string, string) {
			names := []string{"Mr. Alan Brooks", "Jane Doe", "Accounts Payable", "Mrs. Ortiz", "Tom", "Dr. Patel", "Sarah Lee", "Bob's Diner", "Greenfield HOA", "Kim", "Nguyen Family", "Mike"}
			return withParts("mixed", fmt.Sprintf("Dear %s :\n\nYour invoice is attached. Please remit payment at your earliest convenience.\n\n"+
				"Thank you for your business - we appreciate it very much.\n\nSincerely,\n\nCompany %d Services LLC\n(555) 01%02d-%04d\n", names[i], i, i, 1000+i*37), false, pdfPart(i))
		},
		"QuickBooks Online details here, Review and pay link": func(i int) (string, string) {
			return withParts("mixed", fmt.Sprintf("Dear Customer,\n\nWe appreciate your business. Please find your invoice details here. Feel free to contact us if you have any questions.\n\n"+
				"Review and pay: https://connect.intuit.com/t/scs-v1-%s\n\nHave a great day!\nCompany %d\n", tok(i), i), false, pdfPart(i))
		},
		"QuickBooks older invoice text, View and pay link": func(i int) (string, string) {
			return withParts("mixed", fmt.Sprintf("Dear Customer,\n\nYour invoice is attached. Please remit payment at your earliest convenience.\n\nThank you for your business - we appreciate it very much.\n\n"+
				"View and pay: https://connect.intuit.com/t/scs-v1-%s\n\nSincerely,\nCompany %d\n", tok(i), i), false, pdfPart(i))
		},
	}
	rtCheck(t, "Invoice from your supplier", 5, cases)
}
