package campaign

import (
	"strings"
	"testing"
)

// Six customers forward the same chain letter with Outlook for Windows
// (classic): its forward has no separator line, only a bordered block
// "From:/Sent:/To:/Subject:" in HTML and those header lines in the text
// alternative.
func TestReviewOutlookClassicForward(t *testing.T) {
	if c, s := oneEach(t, 6, "p%d@isp.example", func(i int, a, c string) string {
		text := "FYI, please pass it on.\n\nFrom: Shelter <info@shelter.example>\nSent: Monday, November 30, 2026 9:12 AM\nTo: friends@shelter.example\nSubject: Help\n\n" + chain + "\n"
		if i%2 == 1 {
			// GMX's and web.de's forward: "Gesendet:" over "Von:".
			text = "Zur Info.\n\nGesendet: Montag, 30. November 2026 um 09:12 Uhr\nVon: \"Shelter\" <info@shelter.example>\nAn: friends@shelter.example\nBetreff: Help\n\n" + chain + "\n"
		}
		html := `<html><body><div class="WordSection1"><p class="MsoNormal">FYI, please pass it on.</p><p class="MsoNormal">&nbsp;</p>` +
			`<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Shelter &lt;info@shelter.example&gt;<br><b>Sent:</b> Monday, November 30, 2026 9:12 AM<br><b>To:</b> friends@shelter.example<br><b>Subject:</b> Help</p></div>` +
			`<p class="MsoNormal">` + strings.ReplaceAll(chain, "\n", " ") + `</p></div></body></html>`
		return "From: " + a + "\nTo: " + c + "\nSubject: FW: Help\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n" + text + "\n--b\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n--b--\n"
	}); c != 0 || s != 0 {
		t.Fatalf("%d campaigns, %d customers suspended for forwarding a chain letter with Outlook", c, s)
	}
}
