package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// Review rtool3 (third round on the tool texts, 3ba1ea6). "Before" is
// 8d0a400's tree with this file (and the rig, rtAt) copied in. What it
// reproduced is mended (labelWords, labelTotal, valueWords) or pinned.

// rt3Labels: a gift-card BEC written as a scanner's device lines, each a
// different toolLabel at a line's start, each value at most 6 words (the
// reviewed labelWords): twelve lines, 61 words of lure, no link, no number, no
// address (the call to action is a reply to the stolen account).
var rt3Labels = "Sent by: Daniel Harper, Chief Executive Officer\n" +
	"Reply to: me directly, not the office\n" +
	"Device Name: urgent favour needed this morning please\n" +
	"Device Model: purchase eight Apple gift cards today\n" +
	"Location: two hundred dollars each, client gifts\n" +
	"File Format: scratch the backs, photograph codes\n" +
	"Resolution: email me the photos within hour\n" +
	"Number of images: keep this strictly between us\n" +
	"Attachment File Type: surprise for our top clients\n" +
	"Multifunction Printer Location: I am in meetings all day\n" +
	"Multifunction Printer Name: you will be reimbursed tonight\n" +
	"Workcentre Pro Location: reply once at the store\n"

// TestReviewRtool3ShortLabelLines: the lure in twelve short label lines
// under the Xerox or Sharp text (each label once, at a line's start, at
// most 6 words: all cut now). Before (8d0a400): the text the sender's,
// found at the 5th.
func TestReviewRtool3ShortLabelLines(t *testing.T) {
	sharpTail := "\nAttached file is scanned image in PDF format.\n" +
		"Use Acrobat(R)Reader(R) or Adobe(R)Reader(R) of Adobe Systems Incorporated to view the document.\n"
	cases := map[string]func(i int) (string, string){
		"gift-card BEC in 12 short Xerox label lines, no file": func(i int) (string, string) {
			return "text/plain", "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n" + rt3Labels +
				"\nFor more information on Xerox products and solutions, please visit http://www.xerox.com\n"
		},
		"gift-card BEC in 12 short Xerox label lines, WorkCentre Pro text, no link line": func(i int) (string, string) {
			return "text/plain", "Please open the attached document. It was scanned and sent to you using a Xerox WorkCentre Pro.\n\n" + rt3Labels
		},
		"gift-card BEC in 12 short Xerox label lines, HTML, link in href only": func(i int) (string, string) {
			return "text/html", "<html><body><p>Please open the attached document. It was sent to you using a Xerox multifunction printer.</p><p>" +
				strings.ReplaceAll(strings.TrimSpace(rt3Labels), "\n", "<br>\n") +
				`</p><p>For more information on Xerox products and solutions, please visit <a href="http://www.xerox.com/">www.xerox.com</a></p></body></html>`
		},
		"gift-card BEC in 12 short label lines, Sharp text, no file": func(i int) (string, string) {
			return "text/plain", rt3Labels + sharpTail
		},
		"gift-card BEC in 12 short label lines, Sharp text, HTML": func(i int) (string, string) {
			return "text/html", "<html><body><p>" + strings.ReplaceAll(strings.TrimSpace(rt3Labels), "\n", "<br>\n") + "</p><p>" + strings.ReplaceAll(strings.TrimSpace(sharpTail), "\n", "<br>\n") + "</p></body></html>"
		},
	}
	rtCheck(t, "Scan from a Xerox Multifunction Printer", anyAccount, cases)
}

// TestReviewRtool3LongValueOneField: a label line's value counted by
// white space (the version reviewed) let a long value of words joined
// otherwise pass as a few and be cut. Counted as the text is read since
// (valueWords), such a line is kept. Pinned limit (docs/suspension.md,
// "Runs not found"): words joined by a hyphen, a slash, an underscore or
// a zero-width space are one word of the text, so the BEC is no text of
// its own once the Xerox sentence is cut, never found; before the
// scanners' texts were listed, the Xerox sentence made every copy one
// text (and every customer's own scan). A middle dot splits words: found.
func TestReviewRtool3LongValueOneField(t *testing.T) {
	bec := []string{"I need you to purchase eight Apple gift cards of two hundred dollars each for a client meeting this afternoon",
		"keep this between us for now it is a surprise for the team and let me know as soon as you are at the store"}
	cases := map[string]string{"hyphen": "-", "zero-width space": "\u200b", "slash": "/", "middle dot": "\u00b7", "underscore": "_"}
	for name, sep := range cases {
		body := "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n" +
			"Sent by: Daniel Harper, CEO - " + strings.ReplaceAll(bec[0], " ", sep) + "\n" +
			"Location: " + strings.ReplaceAll(bec[1], " ", sep) + "\n"
		want := 0
		if name == "middle dot" {
			want = 5
		}
		rtCheck(t, "Scan from a Xerox Multifunction Printer", want, map[string]func(int) (string, string){
			"BEC in 2 label lines, words joined by " + name: func(int) (string, string) { return "text/plain", body }})
	}
}

// TestReviewRtool3ShortBEC: a five-line gift-card BEC in Sharp's device
// lines (each at most 6 words), as short as such mail is.
func TestReviewRtool3ShortBEC(t *testing.T) {
	body := rt3BEC + "Use Acrobat(R)Reader(R) or Adobe(R)Reader(R) of Adobe Systems Incorporated to view the document.\n"
	rtCheck(t, "Urgent", anyAccount, map[string]func(int) (string, string){
		"five-line BEC in Sharp label lines": func(int) (string, string) { return "text/plain", body }})
}

// rt3BEC is a five-line gift-card BEC in Sharp's device lines, then the
// first line of Sharp's text.
const rt3BEC = "Sent by: Daniel Harper, CEO\n" +
	"Reply to: me only, I'm in meetings\n" +
	"Device Name: need 8 Apple gift cards today\n" +
	"Location: $200 each, for client gifts, confidential\n" +
	"File Format: send me photos of the codes\n" +
	"\nAttached file is scanned image in PDF format.\n"

// TestReviewRtool3ShortBECFullSharp: the five-line BEC under Sharp's
// whole text as its devices write it, its Adobe link line too (a
// toolLink and a toolLabel: named nothing, cut).
func TestReviewRtool3ShortBECFullSharp(t *testing.T) {
	body := rt3BEC +
		"Use Acrobat(R)Reader(R) or Adobe(R)Reader(R) of Adobe Systems Incorporated to view the document.\n" +
		"Adobe(R)Reader(R) can be downloaded from the following URL:\n" +
		"Adobe, the Adobe logo, Acrobat, the Adobe PDF logo, and Reader are registered trademarks or trademarks of Adobe Systems Incorporated in the United States and other countries.\n\n" +
		"%s\n"
	cases := map[string]func(int) (string, string){}
	for _, link := range []string{"http://www.adobe.com/", "https://www.adobe.com", "www.adobe.com"} {
		cases["five-line BEC in Sharp label lines, link line "+link] = func(int) (string, string) { return "text/plain", fmt.Sprintf(body, link) }
	}
	rtCheck(t, "Urgent", anyAccount, cases)
}

// TestReviewRtool3QRPerCopy: a QR-code phishing run ("quishing"): a
// scanner's text (the files flag) over the lure in the sender's own
// lines, and a QR code image of each copy's own (a tracking token in the
// QR's URL per recipient) shown inline: every target is a file, so the
// lure is salted with each copy's image. The scanners do not see one
// content per copy here (each QR points to its own URL), unlike the
// documented class (a PDF re-saved per copy). Before (8d0a400): found at
// the 5th (the text salted... or not: see the log).
func TestReviewRtool3QRPerCopy(t *testing.T) {
	lure := `<html><body><p>Please open the attached document. It was sent to you using a Xerox multifunction printer.</p>` +
		`<p>Your Microsoft 365 password expires today. To keep access to your mailbox and shared files, scan the QR code below with your phone camera and confirm your account details before the end of the business day.</p>` +
		`<p><img src="cid:qr"></p><p>IT Service Desk</p></body></html>`
	cases := map[string]func(i int) (string, string){
		"Xerox text, lure, inline QR per copy": func(i int) (string, string) {
			return withParts("related", lure, true, imagePart(i, "qr", "inline"))
		},
		"Xerox text, lure, inline QR per copy, no disposition": func(i int) (string, string) {
			return withParts("related", lure, true, imagePart(i, "qr", ""))
		},
		"lure without the Xerox text, inline QR per copy": func(i int) (string, string) {
			return withParts("related", strings.Replace(lure, "Please open the attached document. It was sent to you using a Xerox multifunction printer.", "", 1), true, imagePart(i, "qr", "inline"))
		},
	}
	rtCheck(t, "Password expiry notice", anyAccount, cases)
}

// TestReviewRtool3NoticeLure: a reply-harvest lure written as an opt-in
// notice (cutBoilerplate's shape), under the Xerox text whose link is the
// message's only link (a toolLink: no target).
func TestReviewRtool3NoticeLure(t *testing.T) {
	notice := "You are receiving this email because your mailbox subscription with our mail service expires today and your account will be closed. " +
		"To keep your subscription, reply to this email with your username and password so our team can renew it before the end of the day. " +
		"You can unsubscribe from these account notices at any time. This email was sent to you because you are a registered member of our mail service. " +
		"Our privacy policy explains how we use your personal information.\n"
	cases := map[string]func(int) (string, string){}
	for _, link := range []string{"http://www.xerox.com", "https://www.xerox.com/", "www.xerox.com", ""} {
		body := "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n" + notice
		if link != "" {
			body += "\nFor more information on Xerox products and solutions, please visit " + link + "\n"
		}
		cases[fmt.Sprintf("reply-harvest notice under Xerox text, link %q", link)] = func(int) (string, string) { return "text/plain", body }
	}
	rtCheck(t, "Mailbox subscription", anyAccount, cases)
}

// TestReviewRtool3LabelCallToAction: the call to action in a label line
// (a link, an account number, an address), the rest in short labels.
func TestReviewRtool3LabelCallToAction(t *testing.T) {
	head := "Sent by: Accounts Payable, Harper Ltd\nDevice Name: our bank details have changed\nFile Format: pay all open invoices to\n"
	tail := "\nAttached file is scanned image in PDF format.\n"
	for name, cta := range map[string]string{
		"IBAN":            "Location: IBAN GB29 NWBK 6016 1331 9268 19\n",
		"link":            "Location: https://harper-payments.example/update\n",
		"obfuscated link": "Location: harper-payments[.]example slash update\n",
		"reply address":   "Reply to: ap.harperltd@gmail.com\n",
	} {
		// Pinned limit: a call to action the detectors miss leaves the
		// sender's own words, under 20 once the scanner's sentence is
		// cut (docs/suspension.md, "Runs not found"): never found.
		want := anyAccount
		if name == "obfuscated link" {
			want = 0
		}
		rtCheck(t, "Scanned document", want, map[string]func(int) (string, string){
			"bank-change fraud in Sharp labels, call to action " + name: func(int) (string, string) { return "text/plain", head + cta + tail }})
	}
}

// TestReviewRtool3SharpHTMLLink: the five-line BEC in Sharp's labels,
// HTML, Sharp's Adobe link as a link (href) whose text is the label.
func TestReviewRtool3SharpHTMLLink(t *testing.T) {
	body := "<html><body><p>Sent by: Daniel Harper, CEO<br>Reply to: me only, I'm in meetings<br>Device Name: need 8 Apple gift cards today<br>" +
		"Location: $200 each, for client gifts, confidential<br>File Format: send me photos of the codes</p>" +
		"<p>Attached file is scanned image in PDF format.<br>Use Acrobat(R)Reader(R) or Adobe(R)Reader(R) of Adobe Systems Incorporated to view the document.<br>" +
		"Adobe(R)Reader(R) can be downloaded from the following URL:</p>" +
		`<p><a href="http://www.adobe.com/">http://www.adobe.com/</a></p></body></html>`
	rtCheck(t, "Urgent", anyAccount, map[string]func(int) (string, string){
		"five-line BEC in Sharp labels, HTML with Adobe's link": func(int) (string, string) { return "text/html", body }})
}
