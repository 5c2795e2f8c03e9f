package campaign

import (
	"fmt"
	"testing"
)

// Review rtool2 (second round on the tool texts, 61469a2..dd3b251).
// "Before" is 8d0a400's tree with this file copied in.

const rt2Xerox = "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n" +
	"Attachment File Type: pdf, Multi-Page\n\nMultifunction Printer Location: \nMultifunction Printer Name: Xerox AltaLink C8045\n\n%s\n\n" +
	"For more information on Xerox products and solutions, please visit http://www.xerox.com\n"

// TestReviewRtool2MixedToolTexts: the fake Xerox scan with a page of each
// copy's own (review rtool's mended case, found at the 5th) plus one
// sentence of a linkToolText (OneDrive's "shared a file with you", or
// QuickBooks' "details here" text) is never found: cutToolText's files is
// !links, so one link tool's phrase anywhere turns toolFiles off and the
// whole cut text (the Xerox text, its labels, the lure) is salted with the
// per-copy page again. Before (8d0a400): found at the 5th.
func TestReviewRtool2MixedToolTexts(t *testing.T) {
	cases := map[string]func(i int) (string, string){
		"fake Xerox scan + OneDrive phrase, own page per copy": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf(rt2Xerox, "Accounts Team shared a file with you\nView document: "+rtOwnPage(i))
		},
		"fake Xerox scan + QuickBooks details here, own page per copy": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf(rt2Xerox, "We appreciate your business. Please find your invoice details here. Feel free to contact us if you have any questions.\n"+rtOwnPage(i))
		},
		"fake QuickBooks invoice + OneDrive phrase, own page per copy": func(i int) (string, string) {
			return "text/plain", "Dear Customer :\n\nYour invoice is attached. Please remit payment at your earliest convenience.\n\nAccounts shared a file with you\nView invoice: " + rtOwnPage(i) + "\n\n" +
				"Thank you for your business - we appreciate it very much.\n\nSincerely,\n\nAccounts Receivable\n"
		},
	}
	rtCheck(t, "Scan from a Xerox Multifunction Printer", anyAccount, cases)
}

// TestReviewRtool2LureInLabels: a lure written in the device's label
// lines (cut whole, from the label to the line's end, and a label is
// searched anywhere in a line) under the Xerox or Sharp text. Found at
// the 5th before (8d0a400: the text the sender's); now the lure's words
// are cut with the labels.
func TestReviewRtool2LureInLabels(t *testing.T) {
	bec := "Sent by: Daniel Harper, CEO - I need you to purchase eight Apple gift cards of two hundred dollars each for a client meeting this afternoon.\n" +
		"Location: Keep this between us for now, it is a surprise for the team. Let me know as soon as you are at the store and I will tell you what to do next.\n"
	cases := map[string]func(i int) (string, string){
		// No link, number or address: a reply to the (compromised)
		// sender is the call to action (gift-card BEC).
		"gift-card BEC in Xerox labels, no file": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf(rt2Xerox, bec)
		},
		"gift-card BEC in Xerox labels, decoy PDF per copy": func(i int) (string, string) {
			return withParts("mixed", fmt.Sprintf(rt2Xerox, bec), false, pdfPart(i))
		},
		// No label at a line's start: "location:" inside the line cuts
		// the rest of it.
		"gift-card BEC, a label mid-line, Sharp text, no file": func(i int) (string, string) {
			return "text/plain", "Quick favour before the client visit (location: downtown) - I need you to purchase eight Apple gift cards of two hundred dollars each for the meeting this afternoon.\n" +
				"Sorry for the rush (sent by: phone) - keep this between us for now, it is a surprise for the team. Let me know as soon as you are at the store and I will tell you what to do next.\n" +
				"\nAttached file is scanned image in PDF format.\n"
		},
		// OneDrive's share phrase (a linkToolText: labels cut with it
		// too), the lure in label lines, a file of each copy's own on
		// one tenant.
		"credential lure in labels under OneDrive's phrase, own file per copy": func(i int) (string, string) {
			return "text/plain", "IT Service Desk shared a file with you\n\n" +
				"Sent by: IT Service Desk - your mailbox has reached its storage limit and new messages are being held on the server.\n" +
				"Location: To release them, open the shared document below and confirm your account before the end of the day.\n\n" +
				fmt.Sprintf("https://contoso-my.sharepoint.com/:b:/g/personal/it_contoso_com/E%xQ\n", uint64(i+1)*0x9e3779b97f4a7c15)
		},
		"gift-card BEC in Sharp labels, no file": func(i int) (string, string) {
			return "text/plain", bec + "\nAttached file is scanned image in PDF format.\n" +
				"Use Acrobat(R)Reader(R) or Adobe(R)Reader(R) of Adobe Systems Incorporated to view the document.\n"
		},
		// The lure's words in label lines, a decoy PDF per copy (the
		// bytes per copy are the documented class; the lure's own
		// words in the body were the sender's before).
		"credential lure in Xerox labels, own PDF per copy": func(i int) (string, string) {
			lure := "Device Name: Microsoft 365 mailbox notice - your mailbox storage plan expires at the end of today.\n" +
				"Location: Open the attached secure form before the end of the day to keep your mailbox and all of your mail.\n"
			return withParts("mixed", fmt.Sprintf(rt2Xerox, lure), false, pdfPart(i))
		},
	}
	rtCheck(t, "Scan from a Xerox Multifunction Printer", anyAccount, cases)
}

// TestReviewRtool2IntuitPlatform: a fraudulent-invoice run (real
// QuickBooks invoices the run's own account created, one per copy, each
// its own connect.intuit.com link) under QuickBooks Online's "details
// here" text, the lure the invoice's amount and the page. intuit.com a
// platform makes each copy's invoice link its own target: the cut text
// salted with a target per copy, never found. Before (8d0a400): one
// target (intuit.com), found at the 5th.
func TestReviewRtool2IntuitPlatform(t *testing.T) {
	tok := func(i int) string { return fmt.Sprintf("%x", uint64(i+7)*0x9e3779b97f4a7c15) }
	cases := map[string]func(i int) (string, string){
		"QuickBooks details here, invoice link per copy": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf("Dear Customer,\n\nWe appreciate your business. Please find your invoice details here. Feel free to contact us if you have any questions.\n\n"+
				"Invoice INV-%d, amount due today.\nReview and pay: https://connect.intuit.com/t/scs-v1-%s\n", 4100+i, tok(i))
		},
		"QuickBooks estimate details here, invoice link per copy": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf("Please find your estimate details here. Feel free to contact us if you have any questions. We look forward to working with you.\n\n"+
				"Review: https://connect.intuit.com/t/scs-v1-%s\n", tok(i))
		},
	}
	rtCheck(t, "Invoice from Geek Squad", anyAccount, cases)
}

// TestReviewRtool2ToolTextWithNotice: review rtool's mended fake Xerox
// scan (own page per copy) with a list notice under a "-- " separator
// (sigNotice sets toolFiles false): the whole cut text, the Xerox text and
// its labels with the notice, is salted with each copy's page again: never
// found. Before (8d0a400): the Xerox text the sender's, found at the 5th.
// Held: the notice without the separator (cutBoilerplate), found at 5.
func TestReviewRtool2ToolTextWithNotice(t *testing.T) {
	cases := map[string]func(i int) (string, string){
		"fake Xerox scan + opt-in notice, own page per copy": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf(rt2Xerox, "View document: "+rtOwnPage(i)) + "\n" + optInNotice + "\n"
		},
		"fake Xerox scan + short notice, own page per copy": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf(rt2Xerox, "View document: "+rtOwnPage(i)) + "\n" + hamgenShort + "\n"
		},
		"fake Xerox scan + notice under a signature separator, own page per copy": func(i int) (string, string) {
			return "text/plain", fmt.Sprintf(rt2Xerox, "View document: "+rtOwnPage(i)) + "\n-- \n" + optInNotice + "\n"
		},
	}
	rtCheck(t, "Scan from a Xerox Multifunction Printer", anyAccount, cases)
}

const hamgenShort = "This newsletter was sent to you because you subscribed on our website. We respect your privacy and never share your email address. " +
	"If you no longer wish to receive these emails, you can unsubscribe at any time."
