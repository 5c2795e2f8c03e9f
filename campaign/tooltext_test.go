package campaign

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// toolMessages are a tool's default text around the file it sends, as the
// tool writes it (the Windows text wrapped as Outlook 2007's plain part
// has it): file n is the customer's own (its bytes by pdfPart, or an
// image by imagePart).
var toolMessages = map[string]func(file string) (ct, body string){
	"Windows Send to > Mail recipient": func(file string) (string, string) {
		return withParts("mixed", "Your message is ready to be sent with the following file or link\nattachments:\n\nprogramme.pdf\n\n\n"+
			"Note: To protect against computer viruses, e-mail programs may prevent\nsending or receiving certain types of file attachments.  Check your e-mail\n"+
			"security settings to determine how attachments are handled.\n", false, file)
	},
	"Windows Send to, HTML part": func(file string) (string, string) {
		return withParts("mixed", "<html><body><p>The message is ready to be sent with the following file or link attachments:</p><p>programme.pdf</p>"+
			"<p>Note: To protect against computer viruses, e-mail programs may prevent sending or receiving certain types of file attachments.&nbsp; "+
			"Check your e-mail security settings to determine how attachments are handled.</p></body></html>", true, file)
	},
	"QuickBooks Online invoice": func(file string) (string, string) {
		return withParts("mixed", "Dear Customer,\n\nWe appreciate your business. Please find your invoice details here. Feel free to contact us if you have any questions.\n\n"+
			"Have a great day!\nRiverside Plumbing\n", false, file)
	},
	"QuickBooks Online statement": func(file string) (string, string) {
		return withParts("mixed", "Your statement is attached.  Please remit payment at your earliest convenience.\r\nThank you for your business - we appreciate it very much.\r\n\r\n"+
			"Have a great day!\r\nRiverside Plumbing\r\n", false, file)
	},
	"QuickBooks Online estimate": func(file string) (string, string) {
		return withParts("mixed", "Please find your estimate details here. Feel free to contact us if you have any questions. We look forward to working with you.\n\n"+
			"Have a great day!\nRiverside Plumbing\n", false, file)
	},
	// QuickBooks' older defaults (Desktop's Send Forms and Online's
	// EmailMessagesPrefs before its "details here" texts), as Intuit's
	// preferences sample and the invoices copied from it have them.
	"QuickBooks Desktop invoice": func(file string) (string, string) {
		return withParts("mixed", "Dear Customer :\n\nYour invoice is attached. Please remit payment at your earliest convenience.\n\n"+
			"Thank you for your business - we appreciate it very much.\n\nSincerely,\n\nRiverside Plumbing\n555-0142\n", false, file)
	},
	"QuickBooks estimate": func(file string) (string, string) {
		return withParts("mixed", "Please review the estimate below.  Feel free to contact us if you have any questions.\nWe look forward to working with you.\n\n"+
			"Sincerely,\nRiverside Plumbing\n", false, file)
	},
	// A Xerox multifunction printer's scan to e-mail (AltaLink and
	// VersaLink firmware; WorkCentre Pro's older wording).
	"Xerox scan to e-mail": func(file string) (string, string) {
		return withParts("mixed", "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n"+
			"Attachment File Type: pdf, Multi-Page\n\nMultifunction Printer Location: \nMultifunction Printer Name: Xerox 7830\n\n\n"+
			"For more information on Xerox products and solutions, please visit http://www.xerox.com\n", false, file)
	},
	// A Sharp MX or BP scanner's scan to e-mail: the device's lines, then
	// its note on the PDF and Adobe's trademarks. Its "Reply to:" line
	// names an address too: one at the sender's own organisation's domain
	// is no target (Collector.ownMail), any other one is, and a customer
	// whose device names another's is a copy that points elsewhere.
	"Sharp scan to e-mail": func(file string) (string, string) {
		return withParts("mixed", "Reply to: Front Desk\nDevice Name: Not Set\nDevice Model: MX-2640N\nLocation: Not Set\n\n"+
			"File Format: PDF (Medium)\nResolution: 200dpi x 200dpi\n\nAttached file is scanned image in PDF format.\n"+
			"Use Acrobat(R)Reader(R) or Adobe(R)Reader(R) of Adobe Systems Incorporated to view the document.\n"+
			"Adobe(R)Reader(R) can be downloaded from the following URL:\n"+
			"Adobe, the Adobe logo, Acrobat, the Adobe PDF logo, and Reader are registered trademarks or trademarks of Adobe Systems Incorporated in the United States and other countries.\n\n"+
			"http://www.adobe.com/\n", false, file)
	},
	"Xerox WorkCentre Pro scan": func(file string) (string, string) {
		return withParts("mixed", "Please open the attached document. It was scanned and sent to you using a Xerox WorkCentre Pro.\n\n"+
			"Sent by: Guest\nNumber of Images: 1\nAttachment File Type: PDF\n\nWorkCentre Pro Location: machine location not set\nDevice Name: XRX0000AA70B1C\n\n"+
			"For more information on Xerox products and solutions, please visit http://www.xerox.com\n", false, file)
	},
}

// toolAt is the account at which twelve customers each sending the tool
// message with file(i) are found (0: never).
func toolAt(t *testing.T, msg func(string) (string, string), file func(i int) string) int {
	return foundAt(t, 12, func(i int) (string, []byte) {
		rcpt := fmt.Sprintf("client%d@remote%d.example", i, i%7)
		ct, body := msg(file(i))
		return rcpt, []byte(fmt.Sprintf("From: <c%d@isp.example>\nTo: <%s>\nSubject: Emailing: programme.pdf\nMIME-Version: 1.0\nContent-Type: %s\n\n%s\n", i, rcpt, ct, body))
	})
}

// TestToolTextOwnFiles: twelve customers each sending their own file
// (a PDF, an image) under a tool's default text are no campaign. Before:
// each found at the 5th account (the text the sender's, the same in all).
func TestToolTextOwnFiles(t *testing.T) {
	for name, msg := range toolMessages {
		for kind, file := range map[string]func(i int) string{
			"own PDF":   pdfPart,
			"own image": func(i int) string { return imagePart(i, "", "attachment") },
		} {
			if n := toolAt(t, msg, file); n != 0 {
				t.Errorf("%s, %s: a campaign at account %d, want none in 12", name, kind, n)
			}
		}
	}
}

// TestToolTextNoEvasion: one file (the same PDF, the same image: a QR,
// which is no file key; the same PDF zipped again per copy) under a
// tool's default text from every account is found at the 5th, and so is
// the tool text around a run's own lure with a file of each copy's own.
func TestToolTextNoEvasion(t *testing.T) {
	for name, msg := range toolMessages {
		for kind, file := range map[string]func(i int) string{
			"one PDF":   func(int) string { return pdfPart(9999) },
			"one image": func(int) string { return imagePart(9999, "", "attachment") },
		} {
			if n := toolAt(t, msg, file); n != 5 {
				t.Errorf("%s, %s: found at account %d, want 5", name, kind, n)
			}
		}
	}
	lure := "Your mailbox storage is full and your account will be closed within 24 hours unless you verify your identity with the form we sent you yesterday, " +
		"reply with your password to keep your mail."
	windows := func(file string) (string, string) {
		ct, body := toolMessages["Windows Send to > Mail recipient"](file)
		return ct, strings.Replace(body, "programme.pdf\n", "programme.pdf\n\n"+lure+"\n", 1)
	}
	if n := toolAt(t, windows, pdfPart); n != 5 {
		t.Errorf("a lure inside the Windows text, a file of each copy's own: found at account %d, want 5", n)
	}
}

// TestCutToolText: the tool's sentences are cut wherever lines wrap
// them, in any case, with no-break spaces; a sentence of the text alone
// in the sender's own is kept.
func TestCutToolText(t *testing.T) {
	own := []string{"Your message is ready to be sent with the following file or link", "ATTACHMENTS:", "a.pdf", "Note: To protect against computer viruses,\u00a0e-mail programs may prevent", "sending or receiving certain types of file attachments. Check your e-mail security settings to determine how attachments are handled. Bye"}
	cut, ok, files := cutToolText(own)
	if !ok || !files || strings.Join(cut, "|") != "a.pdf|Bye" {
		t.Errorf("cutToolText = %q, %v, %v; want [a.pdf Bye], a tool of files", cut, ok, files)
	}
	for _, tt := range slices.Concat(toolTexts, scanTexts, linkToolTexts) {
		if !slices.ContainsFunc(toolWords, func(w string) bool { return strings.Contains(tt, w) }) {
			t.Errorf("no toolWords in %q: never cut", tt)
		}
	}
	xerox := []string{"Please open the attached document. It was sent to you using a Xerox multifunction printer.", "Attachment File Type: pdf, Multi-Page", "Device Name: XRX1", "Thanks, Jo"}
	if cut, ok, _ := cutToolText(xerox); !ok || strings.Join(cut, "|") != "Thanks, Jo" {
		t.Errorf("cutToolText = %q, %v; want [Thanks, Jo]: the labels' lines whole", cut, ok)
	}
	// A label's line is cut once, whole, with a short value only.
	xerox = []string{"Please open the attached document. It was sent to you using a Xerox multifunction printer.", "Sent by: Guest",
		"Sent by: the CEO, who needs five gift cards bought today and their codes", "I need it now. Location: downtown"}
	if cut, _, _ := cutToolText(xerox); len(cut) != 2 {
		t.Errorf("cutToolText = %q; want the long label line and the line with a label inside kept", cut)
	}
	// The bounds: 4 words a value (a hyphen splits), 16 in all.
	sharp := []string{"Attached file is scanned image in PDF format.", "Device Name: one two three four", "Location: one two three-four five",
		"Reply to: a b c d", "Device Model: a b c d", "File Format: a b c d", "Resolution: a b c d", "Sent by: e"}
	if cut, _, _ := cutToolText(sharp); strings.Join(cut, "|") != "Location: one two three-four five|Resolution: a b c d|Sent by: e" {
		t.Errorf("cutToolText = %q; want the 5-word value kept, and the lines past 16 words in all", cut)
	}
	kept := []string{"Feel free to contact us if you have any questions.", "We appreciate your business.", "Device name: the invoice printer"}
	if cut, ok, _ := cutToolText(kept); ok || len(cut) != 3 {
		t.Errorf("a tool text's sentences, or a tool's label, alone were cut: %q", cut)
	}
}

// oneDriveShare is the text Outlook writes when its user shares a
// OneDrive file (as the phishing kits that copy it have it), the link
// link the file's share link.
func oneDriveShare(i int, link string) (string, string) {
	return "text/plain", fmt.Sprintf("OneDrive\n\nCustomer %d shared a file with you\n\nprogramme.pdf\n\nOpen: %s\n\nThis link will work for anyone.\n\n"+
		"Microsoft respects your privacy. To learn more, please read our Privacy Statement.\nMicrosoft Corporation, One Microsoft Way, Redmond, WA 98052\n", i, link)
}

// oneDriveLinks are share links of file n: OneDrive's (1drv.ms) and
// OneDrive for Business's (a tenant's sharepoint.com).
var oneDriveLinks = map[string]func(n int) string{
	"1drv.ms": func(n int) string { return fmt.Sprintf("https://1drv.ms/b/s!Ak%xQz", uint64(n+1)*0x9e3779b97f4a7c15) },
	"sharepoint.com": func(n int) string {
		return fmt.Sprintf("https://org%d-my.sharepoint.com/:b:/g/personal/c%d_org%d_example/E%xQ?e=%x", n, n, n, uint64(n+1)*0x9e3779b97f4a7c15, n*31)
	},
}

// TestToolTextOneDrive: twelve customers each sharing their own OneDrive
// file with Outlook's share text are no campaign (before: found at the
// 5th); one file shared from every account (its link with a token of
// each copy's own on sharepoint.com) is found at the 5th.
func TestToolTextOneDrive(t *testing.T) {
	for name, link := range oneDriveLinks {
		at := func(file func(i int) int) int {
			return foundAt(t, 12, func(i int) (string, []byte) {
				rcpt := fmt.Sprintf("client%d@remote%d.example", i, i%7)
				ct, body := oneDriveShare(i, link(file(i)))
				if name == "sharepoint.com" && file(i) == 4242 {
					body = strings.Replace(body, "?e=", fmt.Sprintf("?e=%d", i), 1)
				}
				return rcpt, []byte(fmt.Sprintf("From: <c%d@isp.example>\nTo: <%s>\nSubject: Customer %d shared \"programme.pdf\" with you\nMIME-Version: 1.0\nContent-Type: %s\n\n%s\n", i, rcpt, i, ct, body))
			})
		}
		if n := at(func(i int) int { return i }); n != 0 {
			t.Errorf("%s, own files: a campaign at account %d, want none in 12", name, n)
		}
		if n := at(func(int) int { return 4242 }); n != 5 {
			t.Errorf("%s, one file: found at account %d, want 5", name, n)
		}
	}
}
