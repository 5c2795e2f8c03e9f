package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR5dOnePageSplit (review r5d, claim 1): one Drive file spelt
// per copy in forms Google serves and ad45e79 does not fold: the
// account index /u/N/ (any N opens the file), a Workspace domain
// /a/DOMAIN/, drive.usercontent.google.com/download?id=, thumbnail?id=;
// a Drive folder or a Docs document under /u/N/, a Docs document under
// its other views (/edit, /view, /preview, /copy, /pub, /export: all
// path segments are kept). A per-copy N: each copy its own target, the
// run never found; rotated forms: found at the 9th or never.
func TestReviewR5dOnePageSplit(t *testing.T) {
	wantHrefRunsFound(t, map[string]func(i int) string{
		"Drive uc?id= under /u/N/": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/u/%d/uc?id=1AbCdEfGh&export=download", i)
		},
		"Drive open?id= under /u/N/": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/u/%d/open?id=1AbCdEfGh", i)
		},
		"Drive file/d/ID under /a/DOMAIN/": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/a/org%d.example/file/d/1AbCdEfGh/view", i)
		},
		"Drive folder under /drive/u/N/": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/drive/u/%d/folders/1FoLdEr", i)
		},
		"Docs document under /document/u/N/d/ID": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/document/u/%d/d/1DoCuMeNt/edit", i)
		},
		"Docs document, /edit /view /preview /copy /pub /export": func(i int) string {
			return "https://docs.google.com/document/d/1DoCuMeNt/" + []string{"edit", "view", "preview", "copy", "pub", "export?format=pdf"}[i%6]
		},
		"Drive file by id, four forms": func(i int) string {
			return []string{"https://drive.google.com/open?id=1AbCdEfGh", "https://drive.usercontent.google.com/download?id=1AbCdEfGh",
				"https://drive.google.com/thumbnail?id=1AbCdEfGh", "https://drive.google.com/file/d/1AbCdEfGh/view"}[i%4]
		},
	})
}

// TestReviewR5dOwnPagesMerged (review r5d, claim 1): organisations' own
// Google pages named by a query key no longer kept (ad45e79 dropped
// "id"; "mid", "src", "key" were never kept): every organisation's file
// download (drive.usercontent.google.com/download?id=, Drive
// thumbnail?id=), My Maps map (google.com/maps/d/viewer?mid=), Google
// Calendar embed (calendar.google.com/calendar/embed?src=), old Sheets
// (docs.google.com/spreadsheet/ccc?key=) and a Teams meeting via the
// launcher (teams.microsoft.com/dl/launcher/launcher.html?url=…) is one
// target: twelve organisations under the shared opt-in notice a campaign.
func TestReviewR5dOwnPagesMerged(t *testing.T) {
	wantOwnPagesInnocent(t, map[string]func(i int) string{
		"Drive download drive.usercontent.google.com/download?id=": func(i int) string {
			return fmt.Sprintf("https://drive.usercontent.google.com/download?id=1Zx%dQw%dEr&export=download", i, i*7)
		},
		"Drive embedded folder embeddedfolderview?id=": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/embeddedfolderview?id=1Fo%dLd%d#grid", i, i*7)
		},
		"Drive thumbnail?id=": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/thumbnail?id=1Zx%dQw%dEr&sz=w1000", i, i*7)
		},
		"My Maps google.com/maps/d/viewer?mid=": func(i int) string {
			return fmt.Sprintf("https://www.google.com/maps/d/viewer?mid=1Qk%dPz%dLm&usp=sharing", i, i*7)
		},
		"Calendar embed ?src=": func(i int) string {
			return fmt.Sprintf("https://calendar.google.com/calendar/embed?src=c_%dab%d%%40group.calendar.google.com&ctz=Europe%%2FBerlin", i, i*7)
		},
		"old Sheets docs.google.com/spreadsheet/ccc?key=": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/spreadsheet/ccc?key=0Ak%dXy%dZw&usp=sharing", i, i*7)
		},
		"Drive uc?id= under /u/0/": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/u/0/uc?id=1Zx%dQw%dEr&export=download", i, i*7)
		},
		"Teams launcher": func(i int) string {
			return fmt.Sprintf("https://teams.microsoft.com/dl/launcher/launcher.html?url=%%2F_%%23%%2Fl%%2Fmeetup-join%%2F19%%3Ameeting_Zm%dQ%d%%40thread.v2%%2F0&type=meetup-join&directDl=true", i, i*7)
		},
	}, "variants a campaign")
}
