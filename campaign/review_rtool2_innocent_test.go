package campaign

import (
	"fmt"
	"testing"
)

// TestReviewRtool2InnocentDevices: twelve customers each scanning their
// own papers (own PDF) on their own device, its lines as the devices
// write them with the office's own values: want no campaign in 12.
func TestReviewRtool2InnocentDevices(t *testing.T) {
	sharp := func(head string) string {
		return head + "\nFile Format: PDF (Medium)\nResolution: 200dpi x 200dpi\n\nAttached file is scanned image in PDF format.\n" +
			"Use Acrobat(R)Reader(R) or Adobe(R)Reader(R) of Adobe Systems Incorporated to view the document.\n" +
			"Adobe(R)Reader(R) can be downloaded from the following URL:\n" +
			"Adobe, the Adobe logo, Acrobat, the Adobe PDF logo, and Reader are registered trademarks or trademarks of Adobe Systems Incorporated in the United States and other countries.\n\n" +
			"http://www.adobe.com/\n"
	}
	cases := map[string]func(i int) (string, string){
		"Sharp, location a street address alone": func(i int) (string, string) {
			return withParts("mixed", sharp(fmt.Sprintf("Reply to: Front Desk\nDevice Name: Not Set\nDevice Model: MX-2640N\nLocation: %d Oak Street, Suite %d\n", 100+i*13, 200+i)), false, pdfPart(i))
		},
		"Sharp, device name its model and serial": func(i int) (string, string) {
			return withParts("mixed", sharp(fmt.Sprintf("Reply to: Front Desk\nDevice Name: MX-2640N_%07d\nDevice Model: MX-2640N\nLocation: Not Set\n", 5100000+i*7919)), false, pdfPart(i))
		},
		"Xerox, https link (newer firmware)": func(i int) (string, string) {
			return withParts("mixed", "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n"+
				fmt.Sprintf("Attachment File Type: pdf, Multi-Page\n\nMultifunction Printer Location: \nMultifunction Printer Name: Xerox VersaLink C405 %d\n\n\n", i)+
				"For more information on Xerox products and solutions, please visit https://www.xerox.com\n", false, pdfPart(i))
		},
		"Xerox, HTML, link without scheme in text": func(i int) (string, string) {
			return withParts("mixed", "<html><body><p>Please open the attached document. It was sent to you using a Xerox multifunction printer.</p>"+
				fmt.Sprintf("<p>Attachment File Type: pdf, Multi-Page</p><p>Multifunction Printer Location: Room %d<br>Multifunction Printer Name: Xerox AltaLink C8045</p>", i)+
				`<p>For more information on Xerox products and solutions, please visit <a href="http://www.xerox.com/">www.xerox.com</a></p></body></html>`, true, pdfPart(i))
		},
	}
	// Pinned limit (docs/suspension.md: "a listed tool that sends files
	// with each customer's own link, number or address beside them"):
	// a device line with a number or an address (not at the sender's own
	// domain) keeps the text the sender's, as a lure's number per copy
	// must (TestReviewRtool2LureInLabels): a campaign at the 5th.
	documented := map[string]func(i int) (string, string){
		"Sharp, device name with its IP address": func(i int) (string, string) {
			return withParts("mixed", sharp(fmt.Sprintf("Reply to: Front Desk\nDevice Name: SHARP MX-3071 [192.168.%d.45]\nDevice Model: MX-3071\nLocation: Not Set\n", i)), false, pdfPart(i))
		},
		"Sharp, location a street address with suite and phone": func(i int) (string, string) {
			return withParts("mixed", sharp(fmt.Sprintf("Reply to: Front Desk\nDevice Name: Not Set\nDevice Model: MX-2640N\nLocation: %d Oak Street, Suite %d, tel. (555) 01%02d-%04d\n", 100+i*13, 200+i, i, 1000+i*37)), false, pdfPart(i))
		},
		"Xerox, location with phone extension": func(i int) (string, string) {
			return withParts("mixed", "Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\n"+
				fmt.Sprintf("Attachment File Type: pdf, Multi-Page\n\nMultifunction Printer Location: 2nd floor copy room, IT helpdesk x%d, +1 555 01%02d %04d\nMultifunction Printer Name: XRX%012X\n\n\n", 4000+i, i, 1000+i*37, i*7919)+
				"For more information on Xerox products and solutions, please visit http://www.xerox.com\n", false, pdfPart(i))
		},
		"Sharp, Reply to: the office's own Gmail": func(i int) (string, string) {
			return withParts("mixed", sharp(fmt.Sprintf("Reply to: smithoffice%d@gmail.com\nDevice Name: Not Set\nDevice Model: MX-2640N\nLocation: Not Set\n", i)), false, pdfPart(i))
		},
		"Sharp, Reply to: the office's own domain": func(i int) (string, string) {
			return withParts("mixed", sharp(fmt.Sprintf("Reply to: frontdesk@office%d.example\nDevice Name: Not Set\nDevice Model: MX-2640N\nLocation: Not Set\n", i)), false, pdfPart(i))
		},
	}
	rtCheck(t, "Scan from a device", 5, documented)
	rtCheck(t, "Scan from a device", 0, cases)
}
