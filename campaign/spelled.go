package campaign

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// The payload detectors of this file find a link, a number or a request
// for a reply written so that hasPayload's and asksSecret's plain forms
// miss it: in words ("secure-login dot com", "eight hundred five five
// five …"), with letters for digits ("1-800-MAILBOX"), spaced or with
// look-alike characters. A run's lure written as a shared notice with
// its call to action so was cut with the notice and never found
// (TestSpelledPayloadNoEvasion). Each returns what the reader is sent
// to, "" for nothing: "url:" and the registrable domain, "tel:" and the
// digits, "ask:secret". Ordinary prose stays no payload ("the dot com
// bubble", "the point is", years, prices, dates, times:
// TestSpelledPayloadDetectors, TestSpelledPayloadHam).

// dotWord reports whether the lower-case field f is a word written for
// a domain name's dot, strongDot whether it is a dot and nothing else in
// prose ("[dot]", a "." standing alone): either stands for a dot between
// the fields around it. Switches: they are asked of every field.
func dotWord(f []byte) bool {
	switch string(f) {
	case "dot", "d0t", "punkt", "point", "punto", "ponto", "kropka", "piste":
		return true
	}
	return false
}

func strongDot(f []byte) bool {
	switch string(f) {
	case ".", "[dot]", "(dot)", "{dot}", "<dot>", "[.]", "(.)", "{.}":
		return true
	}
	return false
}

// lookalikeDots are the characters rendered as a full stop that no name
// resolves with (UTS #46's own full stops are defanged's).
var lookalikeDots = strings.NewReplacer("․", ".", "·", ".", "∙", ".", "⋅", ".", "﹒", ".", "۔", ".", "⸱", ".", "・", ".", "･", ".", "‧", ".", "•", ".")

// commonTLDs are the suffixes a link written with a comma or with a dot
// word in the middle of a sentence must end in: the ones a reader takes
// for a site's ("securelogin,com", "secure-login dot com and confirm"),
// not a two-letter word ("a blue dot in the", "the point is").
var commonTLDs = map[string]bool{"com": true, "net": true, "org": true, "info": true, "biz": true}

// proseTLDs are the top-level domains that are words of English,
// German or French prose a dot word may stand before ("a red dot is.",
// "the dot now.").
var proseTLDs = map[string]bool{"is": true, "in": true, "it": true, "at": true, "be": true, "to": true, "me": true, "do": true, "no": true,
	"so": true, "us": true, "my": true, "by": true, "go": true, "am": true, "as": true, "la": true, "es": true, "im": true, "now": true,
	"one": true, "new": true, "top": true, "win": true, "fun": true, "art": true, "life": true, "live": true, "love": true, "today": true,
	"world": true, "news": true, "help": true, "home": true, "work": true, "works": true, "team": true, "zone": true, "here": true}

// notHost are words before a dot word that name no site ("the dot com
// bubble", "a point de vue", "my point is", "in dot net"), and dotComNouns the words
// after "dot com" in prose about the industry ("early dot com
// companies").
var (
	notHost = map[string]bool{"the": true, "a": true, "an": true, "this": true, "that": true, "these": true, "those": true, "our": true, "your": true,
		"my": true, "his": true, "her": true, "its": true, "their": true, "one": true, "no": true, "any": true, "each": true, "every": true, "some": true,
		"un": true, "une": true, "le": true, "la": true, "les": true, "ce": true, "cet": true, "cette": true, "du": true, "des": true, "de": true,
		"der": true, "die": true, "das": true, "ein": true, "eine": true, "einen": true, "dem": true, "den": true, "el": true, "los": true, "il": true,
		// Prepositions and conjunctions: "experience in dot net and Java".
		"in": true, "on": true, "at": true, "to": true, "for": true, "with": true, "of": true, "by": true, "from": true, "as": true, "and": true,
		"or": true, "is": true, "using": true, "via": true, "about": true, "und": true, "oder": true, "mit": true, "für": true, "von": true,
		"et": true, "ou": true, "avec": true, "pour": true, "en": true, "sur": true, "par": true}
	dotComNouns = map[string]bool{"bubble": true, "boom": true, "era": true, "crash": true, "bust": true, "company": true, "companies": true,
		"startup": true, "startups": true, "mania": true, "years": true, "days": true, "age": true, "business": true, "businesses": true, "stocks": true}
)

// spelledLink is the link text names with its dots in words or spaced
// ("secure-login dot com", "secure-login [dot] com", "secure - login .
// com", other languages' "punkt" and "point"), with a comma
// ("securelogin,com") or a look-alike dot ("secure-login․com"), or with
// its scheme's letters spaced ("h t t p s : / /"): "url:" and its
// registrable domain, "" when there is none.
func spelledLink(text string) string {
	var labels, seps []string // the chain read: labels[i] seps[i] labels[i+1]
	strong := false           // a strongDot among seps
	noun := false             // a dot word that is a noun in prose ("point") among seps
	var single []byte         // a run of one-character fields
	// end judges the chain read when next (the field after it, "" at
	// the end) does not continue it; tail: its last label had
	// punctuation or a path after it.
	tail := false
	end := func(next string) string {
		defer func() { labels, seps, strong, noun, tail = labels[:0], seps[:0], false, false, false }()
		// Hyphens alone join words, they name no site.
		if len(labels) != len(seps)+1 || !slices.Contains(seps, ".") {
			return ""
		}
		var b strings.Builder
		for i, l := range labels {
			if i > 0 {
				b.WriteString(seps[i-1])
			}
			b.WriteString(l)
		}
		// An internationalized name by its ASCII form, as bareDomain's.
		host := asciiName(strings.ToLower(strings.Trim(b.String(), ".-")))
		suffix, icann := publicsuffix.PublicSuffix(host)
		if !icann || len(suffix) >= len(host) {
			return ""
		}
		name := strings.TrimSuffix(host[:len(host)-len(suffix)-1], "-")
		if i := strings.LastIndexAny(name, ".-"); i >= 0 && name[i] == '.' {
			name = name[i+1:]
		}
		reg, _ := publicsuffix.EffectiveTLDPlusOne(host)
		if reg == "" || notHost[name] {
			return ""
		}
		if !strong {
			ends := tail || next == "" || !unicode.IsLetter(firstRune(next))
			named := len(seps) >= 2 || strings.ContainsAny(name, "-0123456789")
			// A name with punctuation right after its domain
			// ("mailverify dot io.", "mailverify punkt de,") is
			// one unless the dot word is prose's "point" or the
			// domain a word of prose ("the red dot is.").
			closed := tail && !noun && !proseTLDs[suffix]
			if !(commonTLDs[suffix] && !dotComNouns[strings.ToLower(strings.Trim(next, ".,;:!?"))] || named && ends || closed) {
				return ""
			}
		}
		return "url:" + reg
	}
	// scheme judges the run of single characters read ("h t t p s : /
	// /"), next the field after it.
	scheme := func(next string) string {
		s := strings.ToLower(string(single))
		single = single[:0]
		i := strings.Index(s, "://")
		if i < 0 || !strings.HasSuffix(s[:i], "http") && !strings.HasSuffix(s[:i], "https") && !strings.HasSuffix(s[:i], "hxxp") && !strings.HasSuffix(s[:i], "hxxps") {
			return ""
		}
		host := s[i+3:] + strings.ToLower(strings.Trim(next, "<>()[]\"',;"))
		host, _, _ = strings.Cut(host, "/")
		if reg, err := publicsuffix.EffectiveTLDPlusOne(asciiName(host)); err == nil {
			return "url:" + reg
		}
		return "url:" + s[:i]
	}
	var buf [8]byte
	for f := range strings.FieldsSeq(text) {
		low := lowerShort(&buf, f) // nil for a longer field
		if utf8.RuneCountInString(f) == 1 {
			if !strongDot(low) || len(single) > 0 {
				single = append(single, f...)
			}
		} else if len(single) > 0 {
			if id := scheme(f); id != "" {
				return id
			}
		}
		l, rest, isLabel := hostLabel(f)
		switch {
		case strongDot(low) || dotWord(low):
			if len(labels) == len(seps)+1 && len(labels) > 0 && !tail {
				seps = append(seps, ".")
				strong = strong || strongDot(low)
				noun = noun || string(low) == "point" || string(low) == "punto" || string(low) == "ponto"
				continue
			}
		case f == "-" || f == "–":
			if len(labels) == len(seps)+1 && len(labels) > 0 && !tail {
				seps = append(seps, "-")
				continue
			}
		case isLabel && len(labels) == len(seps):
			labels, tail = append(labels, l), rest
			if len(labels) > maxLabels {
				// A name has at most 127 labels: the chain's
				// last ones are the name (a long chain cost
				// a long host's every check).
				labels, seps = labels[1:], seps[1:]
			}
			if rest {
				if id := end(""); id != "" {
					return id
				}
			}
			continue
		}
		if len(seps) == 0 {
			labels = labels[:0] // a word, no chain
		} else if id := end(f); id != "" {
			return id
		}
		// This field may start a chain of its own.
		if isLabel && !rest {
			labels = append(labels, l)
		}
		if id := oneFieldLink(f); id != "" {
			return id
		}
	}
	if len(single) > 0 {
		if id := scheme(""); id != "" {
			return id
		}
	}
	return end("")
}

// maxLabels is the most labels of a domain name (RFC 1035's 255 bytes).
const maxLabels = 127

// lowerShort is f in lower case (ASCII) when at most len(buf) bytes,
// nil otherwise: the words the detectors look up are short, and a map
// index or comparison of string(lowerShort(…)) copies nothing.
func lowerShort(buf *[8]byte, f string) []byte {
	if len(f) > len(buf) {
		return nil
	}
	b := buf[:len(f)]
	for i := range len(f) {
		c := f[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return b
}

// oneFieldLink is the link of one field written with a comma
// ("securelogin,com") or look-alike dots ("secure-login․com").
func oneFieldLink(f string) string {
	if !printableASCII(f) {
		if g := lookalikeDots.Replace(f); g != f && bareDomain(g) {
			return urlToken(g)
		}
	}
	if strings.IndexByte(f, ',') < 0 {
		return ""
	}
	name, tld, ok := strings.Cut(strings.ToLower(strings.Trim(f, "<>()[]\"'.;:!?")), ",")
	tld, _, _ = strings.Cut(tld, "/")
	if ok && commonTLDs[tld] && len(name) >= 3 && !strings.ContainsAny(name, ",") {
		if l, rest, ok := hostLabel(name); ok && !rest && l == name && !notHost[name] {
			return "url:" + name + "." + tld
		}
	}
	return ""
}

// hostLabel is the DNS label a field is ("secure-login",
// "com" of "com/verify" or "com.", "secure-login.phish" of
// "secure-login.phish dot com" as its two), rest whether punctuation or a path
// follows it in the field (which ends a name).
func hostLabel(f string) (label string, rest bool, ok bool) {
	for f != "" && strings.IndexByte("<([\"'", f[0]) >= 0 {
		f = f[1:]
	}
	n := 0
	for n < len(f) {
		r, size := rune(f[n]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(f[n:])
		}
		letter := r < utf8.RuneSelf && letterOrDigit(byte(r)) || r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !letter && !(r == '-' && n > 0) && !(r == '.' && n > 0 && n+1 < len(f) && (letterOrDigit(f[n+1]) || f[n+1] >= utf8.RuneSelf)) {
			break
		}
		n += size
	}
	if n == 0 || n > 253 || n < len(f) && strings.IndexByte(".,;:!?)]>\"'/", f[n]) < 0 {
		return "", false, false
	}
	return strings.TrimRight(f[:n], "-"), n < len(f), true
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// digitWords are the words for the digits in English, German and French
// ("oh" for a zero in a number read aloud, "zwo" for a two; "un", an
// article too, and "oh" only within a number), with how many digits the
// multipliers stand for ("eight hundred": 800).
var digitWords = map[string]string{
	"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
	"null": "0", "eins": "1", "zwei": "2", "drei": "3", "vier": "4", "fünf": "5", "sechs": "6", "sieben": "7", "acht": "8", "neun": "9",
	"zwo": "2", "un": "1", "zéro": "0", "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "sept": "7", "huit": "8", "neuf": "9",
	"hundred": "00", "thousand": "000", "hundert": "00", "tausend": "000", "cent": "00", "mille": "000",
}

// spelledMin is the least digits of a number in words or letters: a
// phone or account number's (longNumber's).
const spelledMin = 9

// spelledNumber is the phone number text names in words ("eight hundred
// five five five zero one nine nine", digits among them: "8 hundred 555
// 0199"), with letters for digits ("1-800-MAILBOX", "1 800 MAILBOX"),
// or in digits longNumber does not read (otherDigits): "tel:" and its
// digits, "" when none.
func spelledNumber(text string) string {
	var run strings.Builder
	repeat := 1     // "double", "triple"
	worded := false // a word in the run: digits alone are longNumber's
	lead := ""      // the digits of the fields before ("1 800"), for vanity
	var buf [8]byte
	for f := range strings.FieldsSeq(text) {
		if id := vanity(f); id != "" {
			return id
		}
		if lead != "" && lettersOnly(strings.TrimRightFunc(f, numberPunct)) {
			if id := vanity(lead + "-" + f); id != "" {
				return id
			}
		}
		if digitsOnly(f) && lead == "" {
			lead = f
		} else if digitsOnly(f) && len(lead) < 8 {
			lead += "-" + f
		} else {
			lead = ""
		}
		for w := range strings.SplitSeq(strings.TrimFunc(f, numberPunct), "-") {
			// No digit word is longer than 8 bytes ("thousand").
			lw := lowerShort(&buf, w)
			d, ok := digitWords[string(lw)]
			switch {
			case string(lw) == "double" || string(lw) == "triple" || string(lw) == "doppel":
				repeat = 2 + strings.Count(string(lw), "triple")
				continue
			case ok && (run.Len() > 0 || len(d) == 1 && string(lw) != "oh" && string(lw) != "un"):
				run.WriteString(strings.Repeat(d, repeat))
				repeat, worded = 1, true
				continue
			case digitsOnly(w) && len(w) <= 4:
				// "8 hundred 555 0199": digits among the words.
				run.WriteString(w)
				continue
			}
			if worded && run.Len() >= spelledMin {
				return telOf(run.String())
			}
			run.Reset()
			repeat, worded = 1, false
		}
	}
	if worded && run.Len() >= spelledMin {
		return telOf(run.String())
	}
	return otherDigits(text)
}

// numberPunct is the punctuation around a number's words.
func numberPunct(r rune) bool {
	switch r {
	case ',', '.', ';', ':', '!', '?', '(', ')':
		return true
	}
	return false
}

func digitsOnly(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func lettersOnly(s string) bool {
	return s != "" && strings.TrimFunc(s, func(r rune) bool { return r < utf8.RuneSelf && unicode.IsLetter(r) }) == ""
}

// maxDigits bounds the digits of a number's identity: an IBAN's 34.
const maxDigits = 34

// telOf is the identity of the number of digits d.
func telOf(d string) string { return "tel:" + d[:min(len(d), maxDigits)] }

// tollFree are the North American toll-free prefixes a vanity number
// ("1-800-MAILBOX") is written after.
var tollFree = []string{"800", "888", "877", "866", "855", "844", "833"}

// vanity is the number of a field written with letters for its digits
// after a toll-free prefix ("1-800-MAILBOX", "(800)FLOWERS"), as a
// phone's keypad maps them: "tel:" and its digits.
func vanity(f string) string {
	if f == "" || strings.IndexByte("0123456789(+", f[0]) < 0 {
		return ""
	}
	f = strings.TrimRight(f, ".,;:!?\"'")
	if !strings.ContainsAny(f, "-.)") {
		return ""
	}
	var d []byte
	letters, lead := 0, 0 // lead: the digits before the first letter
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case c >= '0' && c <= '9':
			d = append(d, c)
			if letters == 0 {
				lead++
			}
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			d = append(d, keypad[(c|0x20)-'a'])
			letters++
		case c == '-' || c == '.' || c == '(' || c == ')' || c == '+':
		default:
			return ""
		}
	}
	// Letters past the seventh are not dialled ("1-800-CONTACTS").
	s := strings.TrimPrefix(string(d), "1")
	if letters < 3 || lead < 3 || len(s) < 10 || len(s)-letters > 10 || len(s) > 12 {
		return ""
	}
	for _, p := range tollFree {
		if strings.HasPrefix(s, p) {
			return "tel:1" + s[:10]
		}
	}
	return ""
}

// keypad is the digit of each letter on a phone's keypad (ITU E.161).
const keypad = "22233344455566677778889999"

// otherDigits is the number of at least spelledMin digits in text that
// longNumber does not read: with look-alike digits (any Unicode decimal
// digit, "８００", "٨٠٠"), separators it does not know ("800_555_0199",
// "800–555–0199" with an en dash, other spaces' widths) or of three or
// more characters between three or more groups of at most four digits,
// ten digits at least ("800 - 555 - 0123"); at most 15
// digits (E.164) and no group a year's (19xx, 20xx: "01.01.2024 –
// 31.12.2024" is no number). "tel:" and its digits.
func otherDigits(text string) string {
	var digits []byte
	group, sep := 0, 0 // digits of the last group, separators since the last digit
	groups, widest := 0, 0
	odd, wide, year := false, false, false
	endGroup := func() {
		year = year || yearGroup(digits, group)
		groups, widest = groups+1, max(widest, group)
	}
	endRun := func(r rune) string {
		endGroup()
		if r == ':' && sep == 0 {
			digits = digits[:len(digits)-group] // an hour
		}
		// Wide separators join phone groups ("800 - 555 - 0123"),
		// not two numbers ("12345 - 6789", "40000 - 60000").
		joined := !wide || groups >= 3 && widest <= 4 && len(digits) >= 10
		if (odd || wide) && joined && !year && len(digits) >= spelledMin && len(digits) <= 15 {
			return "tel:" + string(digits)
		}
		digits, group, sep, groups, widest, odd, wide, year = digits[:0], 0, 0, 0, 0, false, false, false
		return ""
	}
	letters := false // the word read is digits with O, l or I among them
	for i, r := range text {
		v := digitValue(r)
		if i == 0 || !letterOrDigit(text[i-1]) {
			letters = letterOrDigit(text[i]) && letterDigits(text[i:])
		}
		if letters && v < 0 && r < utf8.RuneSelf && digitLetter(byte(r)) {
			// "8OO-555-Ol99": the letters that look like 0 and 1.
			v, odd = int(strings.IndexByte("OolI", byte(r))/2), true
		}
		if v >= 0 {
			if sep > 0 {
				endGroup()
				group = 0
			}
			odd = odd || r > unicode.MaxASCII
			wide = wide || sep > 2
			digits, group, sep = append(digits, byte('0'+v)), group+1, 0
			continue
		}
		if len(digits) > 0 && sep < 4 {
			if strings.ContainsRune(" -./()", r) {
				sep++
				continue
			}
			if strings.ContainsRune("_*~|·•", r) || unicode.Is(unicode.Pd, r) || unicode.Is(unicode.Zs, r) {
				sep, odd = sep+1, true
				continue
			}
		}
		if len(digits) > 0 {
			if id := endRun(r); id != "" {
				return id
			}
		}
	}
	if len(digits) > 0 {
		return endRun(0)
	}
	return ""
}

// digitLetter reports whether c is a letter written for a digit: O or o
// for 0, l or I for 1.
func digitLetter(c byte) bool { return c == 'O' || c == 'o' || c == 'l' || c == 'I' }

// letterDigits reports whether the word s starts with (up to the first
// character neither an ASCII letter nor digit) is digits with letters
// written for digits among them ("8OO", "Ol99"; not "I" or "Oslo").
func letterDigits(s string) bool {
	digits, letters := 0, 0
	for i := 0; i < len(s) && letterOrDigit(s[i]); i++ {
		switch {
		case s[i] >= '0' && s[i] <= '9':
			digits++
		case digitLetter(s[i]):
			letters++
		default:
			return false
		}
	}
	return digits > 0 && letters > 0
}

// yearGroup reports whether the last group of digits, group digits
// long, is a year's (19xx, 20xx).
func yearGroup(digits []byte, group int) bool {
	d := digits[len(digits)-group:]
	return group == 4 && (d[0] == '1' && d[1] == '9' || d[0] == '2' && d[1] == '0')
}

// digitValue is the value of a decimal digit of any script, -1 for
// any other rune. Unicode encodes each script's digits zero to nine in
// order, and each range of unicode.Nd starts at a zero.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	if r <= unicode.MaxASCII || !unicode.IsDigit(r) {
		return -1
	}
	for _, g := range unicode.Nd.R16 {
		if rune(g.Lo) <= r && r <= rune(g.Hi) {
			return int(r-rune(g.Lo)) % 10
		}
	}
	for _, g := range unicode.Nd.R32 {
		if rune(g.Lo) <= r && r <= rune(g.Hi) {
			return int(r-rune(g.Lo)) % 10
		}
	}
	return -1
}

// replyVerbs ask for a reply or for something sent back; secretNouns are
// what a lure collects so: with one of them within replyWindow words of
// a replyVerb, in one sentence and not negated, text asks for a secret
// by reply ("send us your PIN in an answer", "answer this message with
// your date of birth", "antworten Sie mit Ihrer PIN").
var (
	replyVerbs = [][]string{{"reply"}, {"replying"}, {"respond"}, {"responding"}, {"answer"}, {"answering"}, {"write", "back"}, {"send", "us"}, {"send", "me"},
		{"email", "us"}, {"e-mail", "us"}, {"mail", "us"}, {"text", "us"}, {"send", "your"}, {"send", "back"}, {"antworten"}, {"antwort"}, {"beantworten"}, {"senden", "sie", "uns"}, {"schicken", "sie", "uns"},
		{"répondez"}, {"répondre"}, {"réponse"}, {"repondez"}, {"repondre"}, {"reponse"}, {"envoyez-nous"}, {"envoyez", "nous"},
		// Other words for it (TestReviewSpelledReplyWords).
		{"get", "back", "to", "us"}, {"write", "to", "us"}, {"return", "this"}, {"let", "us", "know"}, {"send", "over"}, {"forward", "us"}, {"revert"},
		{"schreiben", "sie", "uns"}, {"teilen", "sie", "uns"}, {"renvoyez-nous"}, {"communiquez-nous"}, {"transmettez-nous"}, {"retournez-nous"}}
	secretNouns = [][]string{{"pin"}, {"pins"}, {"account", "number"}, {"card", "number"}, {"security", "code"}, {"verification", "code"}, {"your", "code"}, {"votre", "code"}, {"ihren", "code"}, {"ihre", "code"}, {"ton", "code"},
		{"date", "of", "birth"}, {"birth", "date"}, {"cvv"}, {"cvc"}, {"social", "security"}, {"ssn"}, {"sort", "code"}, {"iban"}, {"otp"},
		{"maiden", "name"}, {"bank", "details"}, {"banking", "details"}, {"geburtsdatum"}, {"kontonummer"}, {"kartennummer"}, {"sicherheitscode"},
		{"bestätigungscode"}, {"numéro", "de", "carte"}, {"date", "de", "naissance"}, {"nip"},
		{"card", "details"}, {"pin-code"}, {"pin-nummer"}, {"ihre", "tan"}, {"die", "tan"}, {"kreditkartennummer"}, {"code", "secret"}, {"numéro", "de", "compte"}, {"security", "question"}, {"security", "questions"}}
	// answerers say who answers ("we will answer your questions"),
	// not that the reader is to.
	answerers = map[string]bool{"we": true, "i": true, "they": true, "will": true, "shall": true, "would": true, "could": true, "can": true, "may": true, "might": true, "happy": true, "glad": true}
	negations = map[string]bool{"not": true, "never": true, "don't": true, "dont": true, "nie": true, "niemals": true, "nicht": true, "jamais": true, "ne": true, "n'": true,
		"nooit": true, "niet": true, "nunca": true, "nessun": true, "nessuno": true, "jamás": true, "jamas": true, "não": true, "nao": true, "non": true, "mai": true, "nigdy": true, "no": true}
)

// replyWindow is how many words apart a replyVerb and a secretNoun ask
// for it.
const replyWindow = 8

// askReply reports a request to send a secret back ("ask:secret") in
// the lower-case text low, "" when there is none. A sentence telling
// the reader never to ("never reply with your PIN") asks for nothing.
func askReply(low string) string {
	var words []string
	verb := false // a replyVerb's first word in the sentence read
	judge := func() bool {
		defer func() { words, verb = words[:0], false }()
		for i := range words {
			if !verb || phraseAt(words, i, replyVerbs) == 0 || negated(words, i) || i > 0 && (answerers[words[i-1]] || strings.HasSuffix(words[i-1], "'ll")) {
				continue
			}
			for j := max(0, i-replyWindow); j < min(len(words), i+replyWindow+1); j++ {
				if phraseAt(words, j, secretNouns) > 0 {
					return true
				}
			}
		}
		return false
	}
	start, curly := -1, false // curly: a ’ in the word read
	for i := 0; i <= len(low); {
		r, size := rune(0), 1
		if i < len(low) {
			if r = rune(low[i]); r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(low[i:])
			}
		}
		if r >= 'a' && r <= 'z' || r == '\'' || r == '-' || r >= utf8.RuneSelf && (unicode.IsLetter(r) || r == '’') {
			if start < 0 {
				start, curly = i, false
			}
			curly = curly || r == '’'
			i += size
			continue
		}
		if start >= 0 {
			w := low[start:i]
			if curly {
				w = strings.ReplaceAll(w, "’", "'")
			}
			for w != "" && (w[0] == '\'' || w[0] == '-') {
				w = w[1:]
			}
			for w != "" && (w[len(w)-1] == '\'' || w[len(w)-1] == '-') {
				w = w[:len(w)-1]
			}
			verb = verb || verbStarts[w]
			words = append(words, w)
			start = -1
		}
		if (r == '.' || r == '!' || r == '?' || r == 0) && len(words) > 0 && judge() {
			return "ask:secret"
		}
		i += size
	}
	return ""
}

// verbStarts are the first words of replyVerbs: a sentence without one
// asks for no reply, and is not judged.
var verbStarts = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range replyVerbs {
		m[p[0]] = true
	}
	return m
}()

// phraseAt is the length of the phrase of ps that words has at i, 0 for
// none.
func phraseAt(words []string, i int, ps [][]string) int {
	for _, p := range ps {
		if i+len(p) <= len(words) && slices.Equal(words[i:i+len(p)], p) {
			return len(p)
		}
	}
	return 0
}

// negated reports whether one of the four words before words[i] negates
// it ("please do not reply", "never answer with").
func negated(words []string, i int) bool {
	before := words[max(0, i-4):i]
	if slices.ContainsFunc(before, func(w string) bool { return urging[w] }) {
		return false // "don't forget to reply", "do not hesitate to answer"
	}
	return slices.ContainsFunc(before, func(w string) bool { return negations[w] || strings.HasSuffix(w, "n't") })
}

// urging are the words after a negation that urge the reader to reply.
var urging = map[string]bool{"hesitate": true, "forget": true, "delay": true, "wait": true, "fail": true, "zögern": true, "vergessen": true, "hésitez": true, "oubliez": true}
