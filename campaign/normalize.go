package campaign

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"
)

// MaxText bounds the text of one body part the normalizer reads (of the
// last MaxTextParts kept): a campaign is recognised by its first screens
// of text, and a 50 MiB text part must not cost 50 MiB of tokens.
const MaxText = 256 << 10

// MaxTokens bounds the tokens kept of one message.
const MaxTokens = 4096

// Normalize turns a body part into the words a campaign is recognised by,
// with what differs between the copies of one run left out:
//
//   - the part's attributed quoted text ("> " lines and HTML blockquotes
//     under "On … wrote:", Outlook's "-----Original Message-----" and
//     "From:/Sent:" blocks, forwards), its signature (after "-- ", RFC
//     3676 4.3, but its prose lines, or after a closing such as "Best
//     regards," near the end), a leading greeting ("Dear John,"), and
//     paragraphs of a legal disclaimer: what one customer puts under
//     every message, whatever it says;
//   - what many senders put under (or over) their own text: a mailing
//     list's footer (cutFooter) and, in a part with nothing to act on
//     (no link, address or number), a shared opt-in notice
//     (cutBoilerplate);
//   - names: every word of names (the recipients' names and address
//     parts, the per-recipient greeting of a mail merge);
//   - numbers and every word with a digit (amounts, dates, order and
//     tracking numbers), e-mail addresses, and URLs but their registrable
//     domain (tracking tokens live in the path and query);
//   - what hides one text as another: HTML tags and entities, compatibility
//     forms (NFKC), accents, zero-width and other format characters,
//     invisible letters, Cyrillic and Greek letters that look Latin, case.
//
// isHTML is for text/html parts. What is left are lower-case words,
// at most MaxTokens.
//
// Quoted text is someone else's only as a reply or a forward has it:
// attributed (a reply's "On … wrote:", a forward's separator, a mail
// client's quote container). A quote without an attribution is text
// placed where a reader still reads it: its lines are the part's text,
// as are the prose lines (sigProse words and more: not a name, a phone
// number or an address) of its signature. A reply over an attributed
// quote, a forwarded chain letter and a line over a company's signature
// block stay the sender's few words.
func Normalize(text string, isHTML bool, names map[string]bool) []string {
	n := normalize(text, isHTML, names)
	if n.full != nil && !n.payload {
		n.payload = n.wait.spelled()
	}
	if (n.payload || len(n.mail) > 0) && n.full != nil {
		return n.full
	}
	return n.toks
}

// normalized is what normalize makes of a part: toks, its words with a
// shared boilerplate block cut (cutBoilerplate); full, the words with
// the block, nil when none was cut; payload, whether the part has a
// link, an e-mail address or a long number (hasPayload), with which
// the block is the sender's text, salted with the targets named in
// wait (targets.go, Collector.Fingerprint).
type normalized struct {
	toks, full []string
	payload    bool
	// targets are those named already ("any": too many addresses),
	// wait the part's texts, whose targets are named once the message
	// has a block cut (Collector.text1): with a payload in its plain
	// forms (payload), or, without, one written in words (spelled.go)
	// looked for only then: the payload decides nothing else, and
	// those detectors cost half of normalize again on every part.
	targets []string
	wait    payloadText
	// mail are the domains of the e-mail addresses in the part, addrs
	// the addresses (at most 64 each): a payload unless the sender's own
	// (Collector.ownMail).
	mail, addrs []string
	// toolFiles: the block cut (full) has the text of a tool that
	// sends files (part.toolFiles).
	toolFiles bool
}

// normalize is Normalize, with the words a boilerplate block's cut
// left out apart.
func normalize(text string, isHTML bool, names map[string]bool) normalized {
	if len(text) > MaxText {
		text = text[:MaxText]
	}
	raw := text
	var quoted string
	marked := false
	if isHTML {
		// Its source as its links open (browserURLs), a page
		// site's form named by its page (formPages).
		raw = formPages(browserURLs(text))
		text, quoted, marked = htmlText(text)
	}
	p := ownLines(text)
	// The document's source too: what a quote container or an entity
	// hides from the text above is still shown (or linked) to a reader,
	// as an attribute's value is (an image's alt text without the image,
	// a title's tooltip: TestReviewNoticeAttribute).
	n := normalized{}
	tooMany := func() {
		// too many to say whose they are
		n.payload, n.targets = true, []string{anyTarget}
	}
	mail := func(d string) {
		switch {
		case slices.Contains(n.mail, d):
		case len(n.mail) < 64:
			n.mail = append(n.mail, d)
		default:
			tooMany()
		}
	}
	n.payload = plainLinkOrNumber(text, mail) || plainLinkOrNumber(quoted, mail) || asksPlain(text) || asksPlain(quoted) ||
		isHTML && (plainLinkOrNumber(attrSpaced.Replace(raw), mail) || htmlPayload(raw)) || n.payload
	n.wait = payloadText{text, quoted, raw, isHTML, n.payload}
	texts := []string{text, quoted}
	if isHTML {
		texts = append(texts, raw)
	}
	for _, s := range texts {
		mailAddresses(s, func(a string) {
			switch {
			case slices.Contains(n.addrs, a): // an HTML part's text and source
			case len(n.addrs) < 64:
				n.addrs = append(n.addrs, a)
			default:
				tooMany()
			}
		})
	}
	n.toks = tokensOf(p, quoted, marked, names)
	if p.full != nil {
		p.own = p.full
		if p.fullSignature != nil {
			p.signature = p.fullSignature
		}
		n.full = tokensOf(p, quoted, marked, names)
		n.toolFiles = p.toolFiles
	}
	return n
}

// tokensOf are the tokens of p's own lines, of its quote (unless someone
// else's) and of its signature's prose lines.
func tokensOf(p part, quoted string, marked bool, names map[string]bool) []string {
	toks := tokens(nil, p.own, names)
	// Apple Mail puts its attribution inside the blockquote, iOS Mail
	// inside the "> " lines.
	ql := strings.Split(quoted, "\n")
	if !marked && !p.attributed && !attributed(p.quoted) && !attributed(ql) {
		toks = tokens(toks, p.quoted, names)
		toks = tokens(toks, ql, names)
	}
	for _, l := range p.signature {
		if t := tokens(nil, []string{l}, names); len(t) >= sigProse {
			toks = tokens(toks, []string{l}, names)
		}
	}
	return toks
}

// sigProse is the least words (tokens) of a signature's line that is
// prose.
const sigProse = 8

// tokens appends the tokens of lines to toks, at most MaxTokens.
func tokens(toks []string, lines []string, names map[string]bool) []string {
	for _, line := range lines {
		for f := range strings.FieldsSeq(line) {
			if len(toks) == MaxTokens {
				return toks
			}
			if t := token(f, names); t != "" {
				toks = append(toks, t)
			}
		}
	}
	return toks
}

// htmlText is the text a reader sees of an HTML part: the document
// built as a browser builds it (html.Parse: HTML5 tree construction, so
// an unclosed element ends where a browser ends it), tags dropped,
// entities decoded, a line break for each block, nothing of script,
// style, and nothing a reader does not see (hidden, display:none,
// visibility:hidden, font-size:0; inline or by a stylesheet's class or
// id rule, hiddenSelectors): random words in hidden spans must not
// make each copy of one text another text. Quoted replies and forwards
// are apart: a blockquote's text is quoted, and marked reports a mail
// client's reply or forward container (Gmail's gmail_quote, Outlook's
// divRplyFwdMsg, Thunderbird's moz-cite-prefix and moz-forward-container),
// whose text is left out (Normalize).
func htmlText(s string) (shown, quoted string, marked bool) {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		// The parser refuses a document nested deeper than a browser
		// nests (x/net/html's 512 open elements): every text of it is
		// read, hidden or quoted, rather than none (nesting a text 513
		// deep must not hide it).
		return allText(s), "", false
	}
	under := descendantStyles(doc)
	hidden := hiddenSelectors(doc)
	var own, quote strings.Builder
	type entry struct {
		n     *html.Node
		quote bool // under a blockquote
	}
	// An explicit stack: a document of nested elements is as deep as
	// MaxText allows.
	stack := []entry{{doc, false}}
	for len(stack) > 0 && own.Len()+quote.Len() <= MaxText {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n, b := e.n, &own
		if e.quote {
			b = &quote
		}
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
			continue
		case html.ElementNode:
			if quoteContainer(n) {
				marked = true
				continue
			}
			if !shownElement(n, under) || hiddenBy(n, hidden) {
				continue
			}
			switch n.Data {
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "td":
				b.WriteByte('\n')
			case "blockquote":
				b.WriteByte('\n')
				e.quote = true
			case "a":
				// A link's target is part of the text (its domain is
				// kept), as a browser opens it (browserURL).
				for _, a := range n.Attr {
					if v := browserURL(a.Val); a.Key == "href" && v != "" {
						b.WriteString(" " + v + " ")
					}
				}
			}
		}
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, entry{c, e.quote})
		}
	}
	return own.String(), quote.String(), marked
}

// allText is every text of an HTML document but its scripts and styles,
// with a line break for each tag.
func allText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	for b.Len() <= MaxText {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// quoteContainer reports whether n is a mail client's reply or forward
// container: an attributed quote.
func quoteContainer(n *html.Node) bool {
	for _, a := range n.Attr {
		if a.Key == "class" || a.Key == "id" {
			v := strings.ToLower(a.Val)
			for _, q := range []string{"gmail_quote", "divrplyfwdmsg", "moz-cite-prefix", "moz-forward-container"} {
				if strings.Contains(v, q) {
					return true
				}
			}
		}
	}
	return false
}

// shownElement reports whether n's text is shown to a reader; under is
// descendantStyles' map.
func shownElement(n *html.Node, under map[*html.Node]uint8) bool {
	switch n.Data {
	case "script", "style", "head", "title", "template", "noscript":
		return false
	}
	for _, a := range n.Attr {
		v := strings.ToLower(a.Val)
		switch a.Key {
		case "hidden":
			return false
		case "style":
			v = strings.Join(strings.Fields(v), "")
			// What no descendant can show again.
			if styleHas(v, "display:none") || styleHas(v, "opacity:0") {
				return false
			}
			// What a descendant can undo with a style of its own (an
			// e-mail template's font-size:0 container around sized
			// text): hidden when none does.
			for i, h := range [...]bool{tinyFont(v), styleHas(v, "visibility:hidden"), styleHas(v, "max-height:0")} {
				if h && under[n]&(1<<i) == 0 {
					return false
				}
			}
		}
	}
	return true
}

// hiddenSelectors are the classes (".x") and ids ("#y") the document's
// style elements hide (display:none, visibility:hidden, font-size:0,
// opacity:0): random words in an element hidden by a stylesheet rule,
// not an inline style, are as unseen as with one.
func hiddenSelectors(doc *html.Node) map[string]bool {
	var css strings.Builder
	stack := []*html.Node{doc}
	for len(stack) > 0 && css.Len() <= MaxText {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Type == html.ElementNode && n.Data == "style" {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.TextNode {
					css.WriteString(c.Data)
				}
			}
			continue
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			stack = append(stack, c)
		}
	}
	out := map[string]bool{}
	for _, r := range topRules(css.String()) {
		decl := strings.Join(strings.Fields(strings.ToLower(r[1])), "")
		if !styleHas(decl, "display:none") && !styleHas(decl, "visibility:hidden") && !tinyFont(decl) && !styleHas(decl, "opacity:0") {
			continue
		}
		for _, sel := range strings.Split(r[0], ",") {
			f := strings.Fields(sel)
			if len(f) == 0 {
				continue
			}
			last := f[len(f)-1] // the element the rule styles
			if i := strings.IndexAny(last, ".#"); i >= 0 {
				out[strings.ToLower(last[i:])] = true
			}
		}
	}
	return out
}

// topRules are the [selectors, declarations] of css's rules that always
// apply: those inside an at-rule (@media print, a mobile layout's
// @media query) are left out, since a rule that hides an element only
// sometimes must not hide its text here (an attacker's text hidden only
// in print is shown on screen).
func topRules(css string) [][2]string {
	var out [][2]string
	depth, start, skip := 0, 0, false
	sel := ""
	for i := 0; i < len(css); i++ {
		switch css[i] {
		case '{':
			if depth == 0 {
				sel = strings.TrimSpace(css[start:i])
				skip = strings.HasPrefix(sel, "@")
			}
			depth++
			start = i + 1
		case '}':
			if depth == 1 && !skip {
				out = append(out, [2]string{sel, css[start:i]})
			}
			depth = max(depth-1, 0)
			start = i + 1
		case ';':
			if depth == 0 {
				start = i + 1 // an at-rule without a block (@import …;)
			}
		}
	}
	return out
}

// hiddenBy reports whether n has a class or id that hidden hides.
func hiddenBy(n *html.Node, hidden map[string]bool) bool {
	if len(hidden) == 0 {
		return false
	}
	for _, a := range n.Attr {
		switch a.Key {
		case "class":
			for _, c := range strings.Fields(strings.ToLower(a.Val)) {
				if hidden["."+c] {
					return true
				}
			}
		case "id":
			if hidden["#"+strings.ToLower(a.Val)] {
				return true
			}
		}
	}
	return false
}

// styleHas reports whether the style v (lower case, no spaces) sets the
// declaration d ("opacity:0" not matching "opacity:0.5").
func styleHas(v, d string) bool {
	for {
		i := strings.Index(v, d)
		if i < 0 {
			return false
		}
		rest := v[i+len(d):]
		if rest == "" || rest[0] != '.' && (rest[0] < '0' || rest[0] > '9') {
			return true
		}
		v = rest
	}
}

// tinyFont reports whether the style v (lower case, no spaces) sets a
// font no reader reads: size 0 in any unit, under 2px or 2pt
// (font-size:1px hid 2500 random words per copy as font-size:0 would,
// TestReviewTinyFont).
func tinyFont(v string) bool {
	for {
		i := strings.Index(v, "font-size:")
		if i < 0 {
			return false
		}
		v = v[i+len("font-size:"):]
		j := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
		if j < 0 {
			j = len(v)
		}
		size, err := strconv.ParseFloat(v[:j], 64)
		if err != nil {
			continue
		}
		unit := v[j:]
		if size == 0 || size < 2 && (strings.HasPrefix(unit, "px") || strings.HasPrefix(unit, "pt")) {
			return true
		}
	}
}

// styleProps are the properties a descendant undoes a container's
// hiding with (ownElement).
var styleProps = []string{"font-size", "visibility", "height"}

// descendantStyles maps each element of doc to the styleProps (bit i:
// styleProps[i]) some element under it sets: one pass over the tree
// rather than one per hiding element.
func descendantStyles(doc *html.Node) map[*html.Node]uint8 {
	var order []*html.Node // pre-order: a parent before its children
	stack := []*html.Node{doc}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		order = append(order, n)
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			stack = append(stack, c)
		}
	}
	under := map[*html.Node]uint8{}
	for _, n := range slices.Backward(order) {
		if n.Parent == nil {
			continue
		}
		f := under[n]
		for _, a := range n.Attr {
			if a.Key == "style" {
				for i, p := range styleProps {
					if strings.Contains(strings.ToLower(a.Val), p) {
						f |= 1 << i
					}
				}
			}
		}
		if f != 0 {
			under[n.Parent] |= f
		}
	}
	return under
}

// part is a text part's lines: own, the sender's; quoted, "> " lines
// (the marks taken off); signature, the lines under a signature
// separator ("-- ", RFC 3676 4.3) or a client's "Sent from my …";
// attributed: a reply's attribution or a forward's separator ends it;
// full, the sender's lines with the boilerplate block own has cut off
// (cutBoilerplate), nil when none was.
//
// fullSignature is the signature with a notice under it
// (sigNotice), nil when there was none.
type part struct {
	own, quoted, signature, full []string
	fullSignature                []string
	attributed                   bool
	// toolFiles: the block cut has the text of a tool that sends files
	// (toolTexts, scanTexts).
	toolFiles bool
}

// ownLines splits text into the lines the sender wrote and the rest:
// quoted replies, a forwarded original, the signature and the greeting
// cut off, disclaimer paragraphs dropped.
func ownLines(text string) part {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var p part
	para := 0 // start in p.own of the current paragraph
	endPara := func() {
		if disclaimer(p.own[para:]) {
			p.own = append(p.own[:para], undisclaimed(p.own[para:])...)
		}
		para = len(p.own)
	}
	sig := false
	prev, prevOwn := "", false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		low := strings.ToLower(t)
		if headerBlock(prev, low) {
			// The "From:" line above is the original's, not the sender's.
			if prevOwn {
				p.own = p.own[:len(p.own)-1]
			}
			p.attributed = true
			break
		}
		if forwardLine(low) || wroteLine(prev, low) || strings.HasPrefix(low, "________________") {
			p.attributed = true
			break
		}
		prev, prevOwn = low, false
		if meetingLine(low) {
			break
		}
		if l == "-- " || t == "--" || strings.HasPrefix(low, "sent from my ") || strings.HasPrefix(low, "get outlook for") {
			sig = true
			continue
		}
		switch {
		case strings.HasPrefix(t, ">"):
			p.quoted = append(p.quoted, strings.TrimLeft(t, "> "))
		case sig:
			p.signature = append(p.signature, t)
		case t == "":
			endPara()
		default:
			p.own = append(p.own, t)
			prevOwn = true
		}
	}
	endPara()
	// A notice is read with any list footer under it (a footer's terms
	// are a notice's): the footer rule alone cut a lined notice's lower
	// half and left its copyright line as the sender's text.
	// A tool's default text around the file it sends is a notice as
	// well (cutToolText).
	// A notice beside a files tool's text leaves the tool's rule on
	// (review rtool2: a notice under "-- " took it off).
	cut, ok, files := cutToolText(p.own)
	p.toolFiles = files
	if c, b := cutBoilerplate(cut); b {
		cut, ok = c, true
	}
	if p.sigNotice() {
		ok = true
	}
	if ok {
		p.full = letter(cutFooter(p.own))
		p.own = cutFooter(cut)
	} else {
		p.own = cutFooter(p.own)
	}
	p.own = letter(p.own)
	return p
}

// sigNotice cuts a notice at the end of p's signature, read with the
// lines over the separator (boilerplateBlock: MinWords of them the
// sender's), into fullSignature: a notice pasted under a client's "-- "
// is a notice as anywhere; its sentences were the signature's prose, the
// sender's text (TestSignatureNotice). It reports whether one was.
func (p *part) sigNotice() bool {
	if len(p.signature) == 0 {
		return false
	}
	all := append(slices.Clip(p.own), p.signature...)
	b := boilerplateBlock(all, true)
	if b == nil || b[len(b)-1].line < len(p.own) {
		return false
	}
	first := b[len(b)-1]
	p.fullSignature = p.signature
	p.signature = slices.Clone(p.signature[:first.line-len(p.own)])
	if head := strings.TrimSpace(all[first.line][:first.off]); head != "" {
		p.signature = append(p.signature, head)
	}
	return true
}

// letter is own without its greeting (a short first line naming the
// reader) and its closing near the end with the name under it. Prose
// under the closing (lines of sigProse words and more) is text, as a
// signature's is: a run's text under "Thanks" or "Best regards, Jane"
// was dropped whole (TestReviewTextUnderClosing).
func letter(own []string) []string {
	if len(own) > 0 && greeting(own[0]) {
		own = own[1:]
	}
	for i := len(own) - 1; i >= 0 && i >= len(own)-8; i-- {
		if closing(own[i]) {
			kept := own[:i:i]
			for _, l := range own[i+1:] {
				if countWords(l) >= sigProse {
					kept = append(kept, l)
				}
			}
			return kept
		}
	}
	return own
}

// forwardLine starts a forwarded or replied-to original, as the common
// clients mark it: a dashed line naming it (Gmail's ten dashes,
// Thunderbird's eight, Outlook's five; English, German, French,
// Italian, Dutch, Portuguese, Spanish, Polish), or Apple Mail's "Begin
// forwarded message:" in those languages (TestReviewForwardLanguages). The original is someone
// else's text: a chain letter many customers forward is no campaign of
// theirs.
func forwardLine(low string) bool {
	if strings.HasPrefix(low, "-----") {
		for _, p := range []string{"forwarded message", "original message", "weitergeleitete nachricht", "ursprüngliche nachricht", "original-nachricht", "message transféré", "message d'origine",
			"messaggio inoltrato", "messaggio originale", "doorgestuurd bericht", "oorspronkelijk bericht", "mensagem encaminhada", "mensagem original",
			"mensaje reenviado", "mensaje original", "przekazana wiadomość", "oryginalna wiadomość", "wiadomość oryginalna"} {
			if strings.Contains(low, p) {
				return true
			}
		}
		return false
	}
	for _, p := range []string{"begin forwarded message:", "anfang der weitergeleiteten nachricht:", "début du message réexpédié",
		"inizio messaggio inoltrato:", "begin doorgestuurd bericht:", "inicio del mensaje reenviado:", "início da mensagem reencaminhada:",
		"início da mensagem encaminhada:", "początek przekazywanej wiadomości:"} {
		if strings.HasPrefix(low, p) {
			return true
		}
	}
	return false
}

// wroteLine is a reply's attribution line, as the common clients write
// it: "On Mon, 1 Jan 2026, Ann <ann@x> wrote:", "Ann <ann@x> wrote:",
// Thunderbird's and Apple Mail's "Am 01.01.26 um 10:00 schrieb Ann:",
// Gmail's "Ann <ann@x> schrieb am Mo., 1. Jan. 2026, 10:00:", "Le
// 01/01/2026 à 10:00, Ann a écrit :"; prev is the line before it, lower
// case: Gmail wraps a long attribution ("On Mon, … Ann <" and "ann@x>
// wrote:"). A quote under one is a reply's (Normalize).
func wroteLine(prev, low string) bool {
	if len(strings.Fields(low)) > 25 {
		return false
	}
	for _, suffix := range []string{"wrote:", "schrieb:", "a écrit :", "a écrit:"} {
		if strings.HasSuffix(low, suffix) {
			return true
		}
	}
	return strings.HasSuffix(low, ":") && strings.Contains(low, "schrieb") &&
		(strings.HasPrefix(low, "am ") || strings.HasPrefix(prev, "am ") || strings.Contains(low, "schrieb am "))
}

// headerBlock reports whether prev and low (lower case) are the first
// two lines of the header block Outlook puts over a replied-to or
// forwarded original instead of a separator line (Outlook for Windows:
// "From:" then "Sent:", bold and under a border in HTML; Outlook for Mac
// and others: "From:" then "Date:"; German "Von:"/"Gesendet:", French
// "De :"/"Envoyé :", Spanish "De:"/"Enviado el:", Italian
// "Da:"/"Inviato:", Dutch "Van:"/"Verzonden:", Polish "Od:"/"Wysłano:";
// GMX and web.de the other way round, "Gesendet:" then "Von:"). The original is someone else's text: six customers
// forwarding one chain letter with Outlook are no campaign.
func headerBlock(prev, low string) bool {
	from := []string{"from:", "von:", "de :", "de:", "da:", "van:", "od:"}
	sent := []string{"sent:", "date:", "gesendet:", "datum:", "envoyé :", "envoyé:", "date :",
		"enviado el:", "enviado:", "fecha:", "inviato:", "data:", "verzonden:", "wysłano:"}
	return hasAnyPrefix(prev, from) && hasAnyPrefix(low, sent) || hasAnyPrefix(prev, sent) && hasAnyPrefix(low, from)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// attributed reports whether lines hold a reply's attribution or a
// forward's separator.
func attributed(lines []string) bool {
	prev := ""
	for _, l := range lines {
		low := strings.ToLower(strings.TrimSpace(l))
		if forwardLine(low) || wroteLine(prev, low) || headerBlock(prev, low) {
			return true
		}
		prev = low
	}
	return false
}

// meetingLine starts the invitation block a meeting service adds (Zoom,
// Teams, Webex, Meet): the same text under every invitation any customer
// sends, so nothing of it may tie two customers together.
func meetingLine(low string) bool {
	for _, p := range []string{"join zoom meeting", "microsoft teams meeting", "join the meeting now", "join on your computer", "join with google meet", "join webex meeting", "is inviting you to a scheduled zoom meeting"} {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}

var greetingWords = []string{"hi", "hello", "dear", "hey", "good morning", "good afternoon", "good evening", "hallo", "liebe", "lieber", "bonjour", "greetings"}

func greeting(line string) bool {
	low := strings.ToLower(line)
	if len(strings.Fields(low)) > 6 {
		return false
	}
	if strings.HasSuffix(low, ",") || strings.HasSuffix(low, ":") || strings.HasSuffix(low, "!") {
		return true
	}
	for _, g := range greetingWords {
		if strings.HasPrefix(low, g+" ") || low == g {
			return true
		}
	}
	return false
}

var closingWords = []string{"regards", "best regards", "kind regards", "best wishes", "best", "cheers", "thanks", "thank you", "many thanks", "sincerely", "yours sincerely", "yours truly", "yours", "cordially", "mit freundlichen grüßen", "viele grüße", "cordialement", "warm regards", "all the best"}

func closing(line string) bool {
	low := strings.TrimRight(strings.ToLower(line), ",.! ")
	for _, c := range closingWords {
		if low == c {
			return true
		}
	}
	return false
}

// disclaimerTerms are what a legal footer says and a message rarely does;
// a paragraph with two of them is a footer.
var disclaimerTerms = []string{"confidential", "intended recipient", "privileged", "disclaimer", "notify the sender", "addressee", "legally", "unauthorised", "unauthorized use", "vertraulich", "empfänger"}

func disclaimer(para []string) bool {
	low := strings.ToLower(strings.Join(para, " "))
	n := 0
	for _, t := range disclaimerTerms {
		if strings.Contains(low, t) {
			n++
		}
	}
	return n >= 2
}

// undisclaimed is what of a disclaimer paragraph is not the disclaimer:
// nothing when its sentences naming a disclaimer term are most of it (a
// legal footer, its other sentences boilerplate too), else the sentences
// naming none. An HTML text is one paragraph once rendered: one
// "confidential … legally privileged" sentence must not take the whole
// text with it.
func undisclaimed(para []string) []string {
	var kept []string
	total, dropped := 0, 0
	for _, s := range sentences(para) {
		n := len(strings.Fields(s))
		total += n
		low := strings.ToLower(s)
		if n <= disclaimerSentence && slices.ContainsFunc(disclaimerTerms, func(t string) bool { return strings.Contains(low, t) }) {
			dropped += n
			continue
		}
		if s = strings.TrimSpace(s); s != "" {
			kept = append(kept, s)
		}
	}
	if dropped*10 >= total*7 || len(kept) == 0 {
		return nil
	}
	return []string{strings.Join(kept, " ")}
}

// sentences splits lines at a sentence's end (".", "!" or "?" before a
// space, a no-break space, HTML's "&nbsp;" after a full stop, or the
// line's end).
func sentences(lines []string) []string {
	var out []string
	for _, l := range lines {
		start := 0
		for i := 0; i < len(l); i++ {
			if (l[i] == '.' || l[i] == '!' || l[i] == '?') && (i+1 == len(l) || l[i+1] == ' ' || strings.HasPrefix(l[i+1:], "\u00a0")) {
				out = append(out, l[start:i+1])
				start = i + 1
			}
		}
		out = append(out, l[start:])
	}
	return out
}

// disclaimerSentence bounds a disclaimer's sentence, in words: a longer
// one is the sender's text, terms or not.
const disclaimerSentence = 50

// footerTerms are what a mailing list's footer says (why the reader
// gets it, how to leave, whose service sent it) and a letter rarely does;
// unsubscribeTerms the ones a list's footer cannot do without. English,
// German, French, and since review ro Spanish, Italian, Dutch,
// Portuguese and Polish: a provider's footer in those was not cut, and
// twelve organisations under it were a campaign
// (TestReviewNoticeMoreLanguages).
var (
	unsubscribeTerms = []string{"unsubscribe", "opt out", "opt-out", "no longer wish", "abmelden", "abbestellen", "désinscri", "désabonn",
		"darse de baja", "darte de baja", "dar de baja", "cancelar la suscripción", "anular la suscripción", "annullare l'iscrizione",
		"annulla l'iscrizione", "disiscriv", "afmelden", "uitschrijven", "cancelar a subscrição", "cancelar a inscrição", "descadastr",
		"wypisz", "wypisać", "rezygnacja z subskrypcji"}
	footerTerms = append(slices.Clip(unsubscribeTerms), "receiving this", "received this", "receive this", "newsletter", "mailing list",
		"preferences", "subscription", "subscribed", "powered by", "built with", "created with", "create your own", "sent with",
		"preferencias", "suscri", "preferenze", "iscritt", "iscrizione", "voorkeuren", "nieuwsbrief", "aangemeld", "preferências",
		"subscrição", "inscreveu", "preferencje", "subskrypc")
)

// Bounds of a list's footer (cutFooter): at most footerMax words, and a
// footer term in every footerDensity of them.
const (
	footerMax     = 100
	footerDensity = 15
)

// cutFooter cuts a mailing list's footer off the end of own: from the
// first line among its last footerMax words that has a footer term, when
// what follows has an unsubscribe term, another one, and a footer term
// in every footerDensity words. A newsletter service's footer ("You are
// receiving this newsletter … unsubscribe … Create your own newsletter")
// is under every list's own news: associations on one provider are no
// campaign (TestReviewAssociationNewsletters). The bounds keep a footer a
// footer: a run's text with an unsubscribe line under it keeps its text.
func cutFooter(own []string) []string {
	start, words := -1, 0
	for i := len(own) - 1; i >= 0; i-- {
		if words += len(strings.Fields(own[i])); words > footerMax {
			break
		}
		if low := strings.ToLower(own[i]); slices.ContainsFunc(footerTerms, func(t string) bool { return strings.Contains(low, t) }) {
			start = i
		}
	}
	if start < 0 {
		return own
	}
	low := strings.ToLower(strings.Join(own[start:], " "))
	n, distinct := 0, 0
	for _, t := range footerTerms {
		if c := strings.Count(low, t); c > 0 {
			n += c
			distinct++
		}
	}
	// A footer naming a secret (a run's text written as one in a
	// language whose footer terms are dense: "… responda a este correo
	// con su usuario y su clave de acceso … darse de baja") is the
	// sender's text, as a notice asking for one is
	// (TestReviewR1NoticeLureLanguages).
	if distinct < 2 || n*footerDensity < len(strings.Fields(low)) || namesSecret(visible(low)) ||
		!slices.ContainsFunc(unsubscribeTerms, func(t string) bool { return strings.Contains(low, t) }) ||
		!labelledLinks(own[start:]) {
		return own
	}
	// A footer is under a letter: a text that is all footer (a short
	// phishing text written as one: "… verify your account … to keep
	// receiving this … unsubscribe") is the sender's text.
	if len(strings.Fields(strings.Join(own[:start], " "))) < MinWords {
		return own
	}
	return own[:start]
}

// footerLabel bounds the words of a footer's sentence with a link or an
// address (labelledLinks), the link's own not counted.
const footerLabel = 8

// labelledLinks reports whether every link and address in lines stands
// in a footer's label ("Unsubscribe: URL", "Create your own newsletter
// for free: URL"): a sentence of at most footerLabel words besides
// links and addresses that names a footer term (in those words, not in
// the link), and no phone or account number. A run's text written as a
// list footer, its link in a sentence asking the reader to act ("verify
// your account now at URL and confirm your password"), is no footer
// (TestFooterNoEvasion).
func labelledLinks(lines []string) bool {
	for _, l := range lines {
		for _, s := range sentences([]string{l}) {
			if !hasPayload(s) {
				continue
			}
			if longNumber(s) {
				return false
			}
			var label []string
			for f := range strings.FieldsSeq(s) {
				if !hasPayload(f) {
					label = append(label, strings.ToLower(f))
				}
			}
			low := strings.Join(label, " ")
			if len(label) > footerLabel || !slices.ContainsFunc(footerTerms, func(t string) bool { return strings.Contains(low, t) }) {
				return false
			}
		}
	}
	return true
}

// boilerplateTerms are what a notice shared by many senders says (why
// the reader gets it, how to leave, whose rights and address): a list's
// footer terms and those of an opt-in, copyright or privacy notice.
var boilerplateTerms = append(slices.Clip(footerTerms), "opted in", "opt in", "opt-in", "signed up", "sign up", "subscriber",
	"copyright", "©", "all rights reserved", "mailing address", "postal address", "privacy", "these emails", "this email was sent",
	"this message was sent", "update your", "manage your", "why did i get", "address book", "datenschutz", "impressum",
	"alle rechte vorbehalten", "tous droits réservés",
	// A no-reply notice's ("Please do not reply to this email.").
	"not reply", "n't reply", "no-reply", "noreply",
	// German and French notices' own words (TestReviewNoticeLanguages).
	"diese e-mail", "diese e-mails", "diese nachricht", "postanschrift", "angemeldet", "einstellungen",
	"cet e-mail", "ces e-mails", "ce courriel", "ces courriels", "adresse postale", "inscrit", "préférences", "données personnelles", "confidentialité",
	// Spanish, Italian, Dutch, Portuguese and Polish notices' own words
	// (TestReviewNoticeMoreLanguages).
	"derechos reservados", "diritti riservati", "rechten voorbehouden", "direitos reservados", "prawa zastrzeżone",
	"dirección postal", "indirizzo postale", "postadres", "endereço postal", "adres pocztowy", "este correo", "estos correos",
	"questa email", "queste email", "questa e-mail", "deze e-mail", "deze e-mails", "este e-mail", "estes e-mails", "ten e-mail",
	"privacidad", "privacidade", "prywatności")

// Bounds of a boilerplate block (cutBoilerplate), in words (fields):
// boilerplateMin to boilerplateMax in all, each of its sentences at most
// boilerplateSentence, and at most boilerplateFragment of lines without
// a term (an address: "Riverside Garden Club", "12 Elm Street"), each
// at most fragmentLine.
const (
	boilerplateMin      = 30
	boilerplateMax      = 150
	boilerplateSentence = 30
	boilerplateFragment = 12
	fragmentLine        = 6
)

// cutBoilerplate cuts a shared notice off the end of own, and one off its
// start: the sentences there that each name a boilerplateTerm (and a few
// short lines among them, an address), boilerplateMin to boilerplateMax
// words with an unsubscribe term and another term, leaving MinWords of
// the sender's own. Organisations each writing their own news under one
// opt-in notice ("You are receiving this email because you opted in via
// our website … unsubscribe from this list at any time") are no campaign
// (TestSharedBoilerplate: before, 8 of 12 held and suspended); the
// notice is sparser in footer terms than cutFooter's bound. ok reports
// whether anything was cut.
//
// The words cut are the sender's again in a message with a payload,
// anywhere in it (Normalize, Collector.Fingerprint): a link (bare
// domains too), an e-mail address, a phone or account number
// (hasPayload), an HTML link, image or form (htmlPayload), an
// attachment. A run's text written as such a notice, its link or number
// in it, in the varying text around it or in another part, keeps its
// keys (TestSharedBoilerplateNoEvasion): what an attacker can hide so is
// a text with nothing to act on.
func cutBoilerplate(own []string) (cut []string, ok bool) {
	cut = own
	if b := boilerplateBlock(cut, true); b != nil {
		first := b[len(b)-1]
		cut = slices.Clone(cut[:first.line])
		if head := strings.TrimSpace(own[first.line][:first.off]); head != "" {
			cut = append(cut, head)
		}
		ok = true
	}
	if b := boilerplateBlock(cut, false); b != nil {
		last, l := b[len(b)-1], cut[b[len(b)-1].line]
		rest := cut[last.line+1:]
		if tail := strings.TrimSpace(l[last.end:]); tail != "" {
			rest = append([]string{tail}, rest...)
		}
		cut, ok = rest, true
	}
	return cut, ok
}

// noticeUnit is a sentence of a boilerplate block, own[line][off:end], or a
// short line among its sentences, and its words.
type noticeUnit struct{ line, off, end, words int }

// boilerplateBlock is the boilerplate block at the end of own (fromEnd)
// or at its start, its units read from that end; nil when there is
// none within the bounds (cutBoilerplate). Only the sentences near that
// end are read.
func boilerplateBlock(own []string, fromEnd bool) []noticeUnit {
	var b, short []noticeUnit // short: fragments not yet followed by a sentence
	words, frag, shortWords := 0, 0, 0
scan:
	for k := range own {
		i := k
		if fromEnd {
			i = len(own) - 1 - k
		}
		var us []noticeUnit
		off := 0
		for _, s := range sentences([]string{own[i]}) {
			us = append(us, noticeUnit{line: i, off: off, end: off + len(s), words: countWords(s)})
			off += len(s)
		}
		if fromEnd {
			slices.Reverse(us)
		}
		for _, u := range us {
			low := strings.ToLower(own[i][u.off:u.end])
			switch {
			case u.words == 0:
			case u.words <= boilerplateSentence && slices.ContainsFunc(boilerplateTerms, func(t string) bool { return strings.Contains(low, t) }):
				b = append(append(b, short...), u)
				words += shortWords + u.words
				frag += shortWords
				short, shortWords = nil, 0
				if words > boilerplateMax || frag > boilerplateFragment {
					return nil
				}
			case u.words <= fragmentLine && u.words == countWords(own[i]):
				// Short lines after the last sentence are the
				// letter's (a closing, a name) unless one follows.
				if shortWords += u.words; shortWords > boilerplateFragment {
					break scan
				}
				short = append(short, u)
			default:
				break scan
			}
		}
	}
	if words < boilerplateMin {
		return nil // most texts: no words of the whole to count
	}
	rest := -words
	for _, l := range own {
		rest += countWords(l)
	}
	if rest < MinWords {
		return nil
	}
	var low strings.Builder
	for _, u := range b {
		low.WriteString(strings.ToLower(own[u.line][u.off:u.end]) + " ")
	}
	distinct := 0
	for _, t := range boilerplateTerms {
		if strings.Contains(low.String(), t) {
			distinct++
		}
	}
	if distinct < 2 || !slices.ContainsFunc(unsubscribeTerms, func(t string) bool { return strings.Contains(low.String(), t) }) {
		return nil
	}
	return b
}

// toolTexts are the default texts programs write around the file they
// send (lower case, one space between words): customers each sending
// their own file under one were a campaign (six suspended, review ro).
// Cut as a notice (cutToolText), they are the sender's text salted with
// the message's targets, a file by its content (Collector.Fingerprint):
// one file under the text from every account is one target, found; each
// customer's own is theirs (TestToolTextOwnFiles, TestToolTextNoEvasion).
// The tool sends files, no link: a copy that points anywhere else (a
// link, an address, a number; a page of each copy's own) is no tool's,
// and the text stays the sender's (Collector.toolFiles): cut, a lure in
// a scanner's words with a page per copy was never found (review rtool).
// A text is cut whole only: its sentences one by one are what anyone
// writes ("Feel free to contact us if you have any questions.").
var toolTexts = []string{
	// Windows Explorer's "Send to > Mail recipient" (its MAPI mail: the
	// first line "Your" or "The", the note after the file's name).
	"your message is ready to be sent with the following file or link attachments:",
	"the message is ready to be sent with the following file or link attachments:",
	"note: to protect against computer viruses, e-mail programs may prevent sending or receiving certain types of file attachments. " +
		"check your e-mail security settings to determine how attachments are handled.",
	// QuickBooks Online's statement message (its EmailMessagesPrefs),
	// and the older invoice and estimate messages (Desktop's Send Forms
	// defaults, and Online's before linkToolTexts' texts), as Intuit's
	// preferences sample has them (review r3: a customer's own invoice
	// under the invoice's, from five customers, was a campaign). Its
	// sales receipt's is under MinWords: never a text key.
	"your statement is attached. please remit payment at your earliest convenience. thank you for your business - we appreciate it very much.",
	"your invoice is attached. please remit payment at your earliest convenience. thank you for your business - we appreciate it very much.",
	"please review the estimate below. feel free to contact us if you have any questions. we look forward to working with you.",
}

// scanTexts are toolTexts too: the texts scanners write around the file
// they send, with the lines of their device beside them (toolLabels).
var scanTexts = []string{
	// A Xerox multifunction printer's scan to e-mail, as AltaLink and
	// VersaLink firmware and as WorkCentre Pro write it (its lines'
	// labels: toolLabels; its link to Xerox's site: toolLinks).
	"please open the attached document. it was sent to you using a xerox multifunction printer.",
	"please open the attached document. it was scanned and sent to you using a xerox workcentre pro.",
	"for more information on xerox products and solutions, please visit",
	// A Sharp MX or BP scanner's scan to e-mail, under its device's
	// lines (toolLabels), as its users' mail and the malware runs that
	// copied it have it (its link to Adobe's site: toolLinks).
	"attached file is scanned image in pdf format.",
	"use acrobat(r)reader(r) or adobe(r)reader(r) of adobe systems incorporated to view the document. adobe(r)reader(r) can be downloaded from the following url:",
	"adobe, the adobe logo, acrobat, the adobe pdf logo, and reader are registered trademarks or trademarks of adobe systems incorporated in the united states and other countries.",
}

// linkToolTexts are the default texts of programs that send a link to
// the file (its page, the invoice online), cut as toolTexts are, whatever
// the copy points to: each customer's own page is theirs.
var linkToolTexts = []string{
	// QuickBooks Online's invoice and estimate messages (its
	// EmailMessagesPrefs): "details here" is the invoice's page.
	"we appreciate your business. please find your invoice details here. feel free to contact us if you have any questions.",
	"please find your estimate details here. feel free to contact us if you have any questions. we look forward to working with you.",
	// Outlook's mail sharing a OneDrive file (the sharer's name before
	// it), its link's line and Microsoft's footer.
	"shared a file with you",
	"this link will work for anyone.",
	"microsoft respects your privacy. to learn more, please read our privacy statement.",
	"microsoft corporation, one microsoft way, redmond, wa 98052",
}

// toolLabels start the lines a scanner writes beside its text (scanTexts:
// its device's name, model and location, the file's type, who sent it;
// the link line under Sharp's text), each with a value of at most
// labelWords words, at most labelTotal in all: cut whole with a
// scanner's text, never alone ("device name:" is anyone's), each label
// once. Their values are the device's,
// the same in many customers' scans: left, the scans of customers' own
// papers were one text (TestToolTextOwnFiles). A longer line, a label
// inside a line or a second time, is the sender's: cut, a lure written
// in such lines was never found (review rtool2). Whatever a line points
// to is still a target (a link, an address, a number: Collector.toolFiles
// then keeps the text the sender's).
var toolLabels = []string{"attachment file type:", "multifunction printer location:", "multifunction printer name:",
	"sent by:", "number of images:", "workcentre pro location:", "device name:",
	"reply to:", "device model:", "location:", "file format:", "resolution:", "http://www.adobe.com/"}

// labelWords bounds a label line's value (toolLabels), labelTotal the
// words of all of a copy's label lines cut, each a run of letters or
// digits (as the text is read: a word joined to another by a hyphen or a
// zero-width space is two): "machine location not set", "Xerox AltaLink
// C8045", Sharp's six lines 13. At 6 words a line and no total, a fraud
// written in a dozen such lines under a scanner's text was cut whole and
// never found (review rtool3); what the bounds leave of one is the
// sender's text, found as before.
const (
	labelWords = 4
	labelTotal = 16
)

// valueWords is the number of runs of letters or digits in s.
func valueWords(s string) int {
	return len(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }))
}

// toolWords are a word of each of toolTexts, in lower case, capitalised
// and in upper case: a text without any has none of them (a text in
// another mix of cases is not cut: the sender's, as before).
var toolWords = func() []string {
	var ws []string
	for _, w := range []string{"attachments:", "viruses,", "invoice", "estimate", "convenience.", "xerox", "scanned image", "adobe", "shared", "anyone.", "microsoft"} {
		ws = append(ws, w, strings.ToUpper(w[:1])+w[1:], strings.ToUpper(w))
	}
	return ws
}()

// cutToolText cuts the toolTexts, scanTexts and linkToolTexts out of
// own, wherever its lines wrap them, in any case (ASCII), with any spaces
// (a no-break space too) between their words, and with a scanner's its
// device's lines (toolLabels); ok reports whether one was, files whether
// one of a tool that sends files was (whatever else was cut too: a link
// tool's phrase beside a scanner's text made it a link tool's, and a lure
// with a page per copy was never found, review rtool2). The lines left
// empty are dropped.
func cutToolText(own []string) (cut []string, ok, files bool) {
	text := strings.Join(own, "\n")
	if !slices.ContainsFunc(toolWords, func(w string) bool { return strings.Contains(text, w) }) {
		return own, false, false // most texts: no copy of them to search
	}
	// flat is text in lower case, each run of spaces one space; at[k]
	// is where flat's byte k is in text.
	flat := make([]byte, 0, len(text))
	at := make([]int, 0, len(text))
	space := false
	for i := 0; i < len(text); i++ {
		c, w := text[i], 1
		if c == 0xc2 && i+1 < len(text) && text[i+1] == 0xa0 { // U+00A0
			c, w = ' ', 2
		}
		if isSpace(c) {
			if !space {
				flat, at = append(flat, ' '), append(at, i)
			}
			space = true
			i += w - 1
			continue
		}
		space = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		flat, at = append(flat, c), append(at, i)
	}
	b, low := []byte(text), string(flat)
	// blank blanks each of ts in text; found: one was.
	blank := func(ts []string) (found bool) {
		for _, t := range ts {
			for from := 0; ; {
				k := strings.Index(low[from:], t)
				if k < 0 {
					break
				}
				k += from
				for j := at[k]; j <= at[k+len(t)-1]; j++ {
					if b[j] != '\n' {
						b[j] = ' '
					}
				}
				found, from = true, k+len(t)
			}
		}
		return found
	}
	files = blank(toolTexts)
	scan := blank(scanTexts)
	if links := blank(linkToolTexts); !files && !scan && !links {
		return own, false, false
	}
	used, total := map[string]bool{}, 0
	for l := range strings.SplitSeq(string(b), "\n") {
		l = strings.TrimSpace(l)
		if scan {
			low := strings.ToLower(l)
			if label := slices.IndexFunc(toolLabels, func(t string) bool { return strings.HasPrefix(low, t) }); label >= 0 && !used[toolLabels[label]] {
				if n := valueWords(low[len(toolLabels[label]):]); n <= labelWords && total+n <= labelTotal {
					used[toolLabels[label]], total = true, total+n
					continue
				}
			}
		}
		if l != "" {
			cut = append(cut, l)
		}
	}
	return cut, true, files || scan
}

// countWords is len(strings.Fields(s)) without the slice.
func countWords(s string) int {
	n := 0
	for range strings.FieldsSeq(s) {
		n++
	}
	return n
}

// hasPayload reports whether text has what a reader is asked to act on:
// a link (a scheme's "://", "www." or a bare domain name a client links:
// "secure-login.example.com/verify"), an e-mail address, or a phone or
// account number (longNumber).
func hasPayload(text string) bool {
	found := false
	return linkOrNumber(text, func(string) { found = true }) || found
}

// linkOrNumber is hasPayload but for the e-mail addresses, whose domains
// it calls mail with.
func linkOrNumber(text string, mail func(domain string)) bool {
	// In words, letters or look-alike characters too (spelled.go).
	text = visible(text)
	return plainLinkOrNumber(text, mail) || spelledLink(text) != "" || spelledNumber(text) != ""
}

// plainLinkOrNumber is linkOrNumber but for what is written in words.
func plainLinkOrNumber(text string, mail func(domain string)) bool {
	// A link or address written so no client links it ("example[.]com",
	// "desk(at)help.example") is still one a reader types
	// (TestReviewNoticeDefanged).
	text = visible(text)
	if strings.ContainsAny(text, "[({<。．｡") {
		text = defanged.Replace(text)
	}
	mailDomains(text, mail)
	if strings.Contains(text, "://") {
		return true
	}
	for f := range strings.FieldsSeq(text) {
		if len(f) >= 4 && strings.EqualFold(f[:4], "www.") || bareDomain(f) {
			return true
		}
	}
	return longNumber(text)
}

// secretTerms ask the reader for what an attacker collects by reply (the
// stolen account's own mailbox, or its Reply-To) and needs no link or
// number for: a password, login details. replyTerms ask for a reply; an
// opt-in notice asks for none ("please do not reply to this email").
//
// In the languages the notice terms know (TestReviewR1NoticeLureLanguages):
// Dutch, Portuguese, Polish, Italian and Spanish too. secretStarts are
// terms found only at a word's start: "senha" is inside "resenha" (a
// review) and "desenhar" (to draw); the others are found inside
// compounds ("e-mailwachtwoord", "Kontopasswort") as well. A reply asked
// for after a negation ("no responda a este correo", "não responda",
// "non rispondere") asks for none; Dutch, whose "niet" comes after the
// verb ("beantwoord deze e-mail niet"), has no reply term: only its
// secrets (TestNoticeLureLanguagesInnocent).
var (
	secretTerms = []string{"password", "passwort", "kennwort", "mot de passe", "contraseña", "passcode", "login details", "log-in details",
		"sign-in details", "credentials", "zugangsdaten", "anmeldedaten", "identifiants",
		"wachtwoord", "inloggegevens", "toegangsgegevens", "palavra-passe", "palavra passe", "credenciais", "dados de acesso",
		"hasło", "hasła", "hasłem", "dane logowania", "dane do logowania", "credenziali", "dati di accesso", "parola d'ordine",
		"clave de acceso", "credenciales", "datos de acceso"}
	secretStarts = []string{"senha"}
	replyTerms   = []string{"reply with", "reply to this", "respond with", "respond to this", "antworten sie", "répondez", "repondez",
		"responda a este", "responda este", "responda con", "responda com", "responder a este", "rispondi a questa", "risponda a questa",
		"rispondete a questa", "rispondere a questa", "rispondi con", "risponda con", "odpowiedz na", "odpowiedz, podając", "odpowiadając na"}
	// replyNegations: a replyTerm after one of these (within 12 bytes)
	// asks for no reply.
	replyNegations = []string{"not ", "n't ", "never ", "no ", "não ", "nao ", "non ", "nunca ", "mai "}
)

// asksSecret reports whether text asks the reader for a secret or for a
// reply (not "do not reply", "don't reply"): something to act on that
// hasPayload does not see. A lure written as an opt-in notice, asking
// to "update your account by replying to this email with your mailbox
// password", keeps the notice the sender's text
// (TestReviewNoticeAsksReply); a notice saying "we will never ask for
// your password" asks for nothing (namesSecret).
func asksSecret(text string) bool {
	// A secret asked for by reply in other words too (spelled.go).
	return asksPlain(text) || askReply(strings.ToLower(visible(text))) != ""
}

// asksPlain is asksSecret but for what is asked in other words.
func asksPlain(text string) bool {
	low := strings.ToLower(visible(text))
	if namesSecret(low) {
		return true
	}
	for _, t := range replyTerms {
		for i := 0; ; {
			j := strings.Index(low[i:], t)
			if j < 0 {
				break
			}
			j += i
			before := low[max(0, j-12):j]
			if !slices.ContainsFunc(replyNegations, func(n string) bool { return strings.Contains(before, n) }) {
				return true
			}
			i = j + len(t)
		}
	}
	return false
}

// namesSecret reports whether the lower-case text low names a secret
// (secretTerms, secretStarts) other than after a negation in its
// sentence (negated: "we will never ask for your password", "nunca le
// pediremos su clave de acceso"): a notice saying so, shared by
// organisations each writing their own news, asks for nothing, and
// twelve of them were one campaign (TestNoticeLureLanguagesInnocent).
func namesSecret(low string) bool {
	// "never, ever" is one negation, not two clauses (review r5b).
	low = strings.ReplaceAll(low, ", ever ", "  ever ")
	asked := func(t string, start bool) bool {
		for i := 0; ; {
			j := strings.Index(low[i:], t)
			if j < 0 {
				return false
			}
			j += i
			i = j + len(t)
			if r, _ := utf8.DecodeLastRuneInString(low[:j]); start && j > 0 && unicode.IsLetter(r) {
				continue
			}
			// The words of its clause.
			end := strings.IndexAny(low[i:], ".!?;:,\n")
			if end < 0 {
				end = len(low) - i
			}
			clause := low[strings.LastIndexAny(low[:j], ".!?;:,\n")+1 : i+end]
			// A hyphen joins a word ("e-mails" is one: "nunca enviamos
			// e-mails a pedir a sua senha" has its verb 4 words after
			// the negation, review r5a).
			if !neverAsked(strings.FieldsFunc(clause, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '’' && r != '-' })) {
				return true
			}
		}
	}
	return slices.ContainsFunc(secretTerms, func(t string) bool { return asked(t, false) }) ||
		slices.ContainsFunc(secretStarts, func(t string) bool { return asked(t, true) })
}

// neverAsked reports whether a clause's words, naming a secret, say it
// will not be asked for: a negation governing a verb of asking in it
// ("we will never ask you to disclose your password", "non
// ti chiederemo mai le tue credenziali", "we vragen nooit naar uw
// wachtwoord"). A negation of another verb asks all the same: "para não
// perder a sua senha, envie-a" (review r3: with any negation within 4
// words before the secret it was none, and the lure never found), and
// so does one whose negation is another clause's ("prosimy o podanie
// hasła, nie zwlekaj": please give your password, don't delay); and
// "we will never ask you to disclose your password", its negation 6
// words before, was a lure, twelve organisations one campaign).
func neverAsked(words []string) bool {
	neg, cond := -10, -1 // cond: where a condition or a purpose opens
	for i, w := range words {
		// Only one opened before the negation is its: "nunca se le
		// pedirá su contraseña" (Spanish's reflexive "se", Italian's
		// "if") asks for nothing.
		opened := cond >= 0 && cond <= neg
		// "ever" after a negation carries it to its verb: "no legitimate
		// bank will ever ask" (review r5a).
		switch {
		case conditions[w]:
			cond = i
		case comparative(words, i):
			// "no later than", "no more than", "non oltre": a limit,
			// no negation (review r5d).
		case negations[w] || strings.HasSuffix(w, "n't") || w == "ever" && neg >= 0:
			neg = i
			// "not to", "nicht zu", "niet te": a purpose's infinitive
			// (not "om", "um": "wij zullen nooit om uw wachtwoord
			// vragen" is Dutch's "ask for").
			if i+1 < len(words) && (words[i+1] == "to" || words[i+1] == "zu" || words[i+1] == "te") {
				cond = i
			}
		case subjects[w] && opened:
			// After a condition's negation, a subject of its own starts
			// the main clause: "if you never log in we request…", "if no
			// one replies we request…", "if you do not want to lose it
			// now or ever we ask…" (review r5d). Not without one: "never
			// will we ask", "at no time will we ask" (review r5e).
			neg, cond = -10, -1
		case opened && i-neg >= 2 && !askVerb(w) && governsInfinitive(words, neg):
			// A condition's or a purpose's negation of an infinitive
			// governs it alone: "para no perderla le pedimos…", "per
			// non perderla ti chiediamo…", "om uw account niet te
			// verliezen vragen wij…" ask (review r5e); "para su
			// seguridad nunca le vamos a pedir…" does not (review r5f).
			neg = -10
		}
		if askVerb(w) {
			// The negation governs the verb: up to 4 words before it
			// ("we will never ask", "non ti chiederemo", "nunca le
			// pediremos", Dutch's verb last: "wij zullen nooit om uw
			// wachtwoord vragen") or up to 2 after it ("we vragen nooit", "wir
			// fragen Sie nie"). Anywhere in the clause it governed another
			// verb as often: "nous vous demandons d'envoyer votre mot
			// de passe pour ne pas perdre vos messages" was never found
			// (review r4, TestReviewR4NeverAskedLures).
			// After it, a negation of an infinitive is what is asked
			// not to be done: "we ask you not to ignore this and…",
			// "le pedimos no ignorar…", "nous vous demandons de ne pas
			// ignorer…" ask (review r5f).
			after := false
			for j := i + 1; j < min(len(words), i+3); j++ {
				if (negations[words[j]] || strings.HasSuffix(words[j], "n't")) && !comparative(words, j) && !governsInfinitive(words, j) {
					after = true
				}
			}
			if i-neg <= 4 || after {
				return true
			}
		}
	}
	return false
}

// askVerbs start the verbs of asking for something in the notice
// languages: ask, request; fragen, bitten (not "bitte", please);
// demander; vragen, verzoeken;
// pedir, solicitar; chiedere, richiedere, domandare; prosić (its
// perfective poprosić; the noun prośba: "z prośbą o podanie hasła"),
// pytać (zapytać), żądać. Polish's by "prosi" and "prosz" (prosimy, proszę,
// prosząc), not "pros": Portuguese "prosseguir" and English "prospects",
// "prosecute" under a negation were "we never ask", and a lure so
// worded asked for nothing.
var askVerbs = []string{"ask", "request", "frage", "fragt", "fragen", "bitten", "demand", "vraag", "vrage", "verzoek",
	"pedi", "pede", "pide", "pedí", "solicit", "chied", "chiede", "richied", "domand", "prosi", "prosz", "popros", "prośb", "pyta", "zapyta", "żąda"}

// subjects are the pronouns "we" that start the main clause after a
// condition (en, de, fr, nl, pt, es, it; not Polish "my": English's "my"
// too).
var subjects = map[string]bool{"we": true, "wir": true, "nous": true, "wij": true, "nós": true, "nosotros": true, "noi": true}

// conditions are the words that open a condition or a purpose: if,
// unless, when, in order (not) to ("in order not to lose them now or
// ever we ask…", review r5d).
var conditions = map[string]bool{"if": true, "unless": true, "wenn": true, "falls": true, "si": true, "se": true, "als": true, "indien": true,
	"order": true, "para": true, "pour": true, "damit": true, "aby": true, "żeby": true, "per": true}

// governsInfinitive reports whether the negation words[n] negates an
// infinitive: "to", "zu", "te" or French's "pas" after it, or a
// Romance infinitive ("perder", "perderla", "ignorare") next or after
// a clitic ("não a perder").
func governsInfinitive(words []string, n int) bool {
	if n+1 >= len(words) {
		return false
	}
	switch next := words[n+1]; {
	case next == "to" || next == "zu" || next == "te" || next == "pas":
		return true
	case !romanceNegations[words[n]] || englishAfterNo[next]:
		return false // "never under any circumstances": no infinitive
	case infinitive(next):
		return true
	case clitics[next] && n+2 < len(words):
		return infinitive(words[n+2])
	}
	return false
}

// romanceNegations are the negations of Spanish, Portuguese and Italian,
// whose infinitives infinitive reads; englishAfterNo are English words
// after "no" that look like one.
var (
	romanceNegations = map[string]bool{"no": true, "non": true, "não": true, "nao": true, "nunca": true, "jamás": true, "jamas": true}
	englishAfterNo   = map[string]bool{"longer": true, "other": true, "later": true, "matter": true, "further": true, "fewer": true, "ever": true,
		"never": true, "under": true, "after": true, "over": true, "order": true, "number": true, "either": true, "their": true, "our": true, "your": true}
)

// clitics are the Romance object pronouns that stand before a verb.
var clitics = map[string]bool{"a": true, "o": true, "la": true, "lo": true, "le": true, "li": true, "lhe": true, "ti": true, "te": true, "me": true, "se": true,
	"nos": true, "vos": true, "ci": true, "vi": true, "ne": true}

// infinitive reports whether w is a Spanish, Portuguese or Italian
// infinitive, with a clitic attached or not ("perder", "perderla",
// "ignorare", "confirmarlo").
func infinitive(w string) bool {
	for _, c := range []string{"las", "los", "les", "la", "lo", "le", "li", "me", "te", "se", "nos", "ne", "ci"} {
		if t, ok := strings.CutSuffix(w, c); ok && len(t) > 3 && strings.HasSuffix(t, "r") {
			w = t
			break
		}
	}
	if len(w) < 4 {
		return false
	}
	for _, e := range []string{"ar", "er", "ir", "ír", "are", "ere", "ire"} {
		if strings.HasSuffix(w, e) {
			return true
		}
	}
	return false
}

// comparative reports whether words[i] is a negation word that makes a
// limit with what follows: "no later than", "no more than", "non oltre"
// (review r5d); "no longer", "nicht mehr" stay negations ("we no longer
// ask for your password", review r5e).
func comparative(words []string, i int) bool {
	if i+1 >= len(words) || !negations[words[i]] {
		return false
	}
	if words[i+1] == "oltre" {
		return true
	}
	return i+2 < len(words) && slices.Contains([]string{"later", "more", "less", "fewer", "später", "mehr", "más", "mais", "più"}, words[i+1]) &&
		slices.Contains([]string{"than", "als", "que", "di", "de"}, words[i+2])
}

// notAsking are words that start like a verb of asking and are none: a
// lure negating another verb beside one ("para não perder o seu pedido
// envie a sua senha", "damit Ihr Fragebogen nicht verfällt", "our
// solicitor will not release the funds") asked for nothing (review r5a,
// TestReviewR5aAskPrefixLures). "pedido" is Spanish's and Portuguese's
// participle too ("nunca le hemos pedido"): a notice so worded asks.
var notAsking = []string{"pedido", "fragebogen", "solicitor", "pedicur", "pediatr", "askew"}

// askVerb reports whether word w is a verb of asking (askVerbs).
func askVerb(w string) bool {
	has := func(p string) bool { return strings.HasPrefix(w, p) }
	return slices.ContainsFunc(askVerbs, has) && !slices.ContainsFunc(notAsking, has)
}

// attrSpaced sets an HTML source's attribute values apart as fields.
var attrSpaced = strings.NewReplacer(`"`, " ", "'", " ", "=", " ", "<", " ", ">", " ")

// defanged undoes the common ways of writing a link or an address so
// that no client links it.
// IDNA's other full stops (UTS #46 maps them to ".") are one too.
var defanged = strings.NewReplacer("。", ".", "．", ".", "｡", ".", "[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".", "[DOT]", ".", "(DOT)", ".",
	"[Dot]", ".", "(Dot)", ".", "{dot}", ".", "{Dot}", ".", "{DOT}", ".", "<dot>", ".", "<Dot>", ".", "<DOT>", ".", "<.>", ".",
	"[@]", "@", "(@)", "@", "[at]", "@", "(at)", "@", "[AT]", "@", "(AT)", "@", "[:]", ":", "[://]", "://")

// visible is s without the characters a reader does not see (format
// characters: zero-width spaces and joiners, the soft hyphen, bidi
// marks; the other default-ignorable ones): between a link's or a
// number's characters they hide it from the detectors and not from the
// reader ("secure-login\u200b.com", "800\u200b555\u200b0199":
// TestReviewSpelledInvisible).
func visible(s string) string {
	if strings.IndexFunc(s, invisible) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
}

func invisible(r rune) bool {
	return r >= 0xad && (unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r))
}

// bareDomain reports whether the field f is a domain name under a public
// suffix of ICANN's (a real top-level domain), with or without a path;
// an internationalized one ("пример.рф") by its ASCII form.
func bareDomain(f string) bool {
	f = strings.Trim(f, "<>()[]\"',.;:!?")
	host, _, _ := strings.Cut(f, "/")
	dot := strings.IndexByte(host, '.')
	if dot <= 0 || dot == len(host)-1 {
		return false
	}
	for _, r := range host {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '.' {
			return false
		}
	}
	host = asciiName(strings.ToLower(host))
	suffix, icann := publicsuffix.PublicSuffix(host)
	return icann && len(suffix) < len(host)
}

// longNumber reports whether text has a number of nine digits or more,
// its digits grouped by up to two of spaces, dashes, dots, slashes and
// brackets ("+1 (800) 555-0199", an IBAN's groups); a time's hour is not
// one of its digits ("30.11.2026 10:00" is no phone number).
func longNumber(text string) bool {
	found := false
	numberSpans(text, func(int, int, string) { found = true })
	return found
}

// numberSpans calls fn with each of longNumber's numbers in text: where
// it starts and ends, and its digits.
func numberSpans(text string, fn func(start, end int, digits string)) {
	// digits of the run, of its last group; separators since the last
	// digit
	var digits []byte
	start, end, group, sep := 0, 0, 0, 0
	for i := 0; i <= len(text); i++ {
		c := byte(0)
		if i < len(text) {
			c = text[i]
		}
		switch {
		case c >= '0' && c <= '9':
			if len(digits) == 0 {
				start = i
			}
			if sep > 0 {
				group = 0
			}
			digits, group, sep, end = append(digits, c), group+1, 0, i+1
		case len(digits) > 0 && sep < 2 && strings.IndexByte(" -./()", c) >= 0:
			sep++
		default:
			if c == ':' && sep == 0 {
				digits = digits[:len(digits)-group] // an hour
			}
			if len(digits) >= 9 {
				fn(start, end, string(digits))
			}
			digits, group, sep = digits[:0], 0, 0
		}
	}
}

// htmlPayload reports whether the HTML document s links, shows an image
// or posts a form anywhere (an attribute href, src, action, formaction,
// background, poster, data (an object's: an image or page shown,
// TestReviewNoticeObjectQR), lowsrc, dynsrc, srcset or imagesrcset with
// a value other than a fragment, or a stylesheet's url()): a payload
// hasPayload does not see in the text a reader sees (an image map's
// area, a QR code).
func htmlPayload(s string) bool {
	found := false
	htmlPayloads(s, func(string) bool {
		found = true
		return false
	})
	return found
}

// htmlPayloads calls fn with the value of each of htmlPayload's
// attributes and url()s in the HTML document s, until it returns false.
func htmlPayloads(s string, fn func(v string) bool) {
	payloadSpans(s, func(a, b int, kind int) bool {
		if kind == cssURL {
			// An empty url() loads nothing (FuzzTargets).
			if v := strings.Trim(s[a:b], " \t\r\n\f\"'"); v != "" {
				return fn(v)
			}
			return true
		}
		v := attrURL(s[a:b], kind)
		// A mailto: link's address as written is the text's address
		// (normalized.mail); one hidden by an entity or escape is not.
		if len(v) > 7 && strings.EqualFold(v[:7], "mailto:") && !strings.ContainsAny(s[a:b], "&%") {
			return true
		}
		if v == "" || v[0] == '#' {
			return true
		}
		return fn(v)
	})
}

// The kinds of payloadSpans' values.
const (
	attrURLValue = iota // an attribute with a URL
	attrURLList         // an attribute with a list of URLs (srcset)
	cssURL              // a stylesheet's url()
)

// payloadSpans calls fn with where the value of each of htmlPayload's
// attributes (as written, without its quotes) and the inside of each
// url() are in the HTML document s, and its kind, until it returns
// false.
func payloadSpans(s string, fn func(a, b int, kind int) bool) {
	inTag, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(' && i >= 3 && strings.EqualFold(s[i-3:i], "url"):
			n := strings.IndexByte(s[i+1:], ')')
			if n < 0 {
				n = len(s) - i - 1
			}
			if !fn(i+1, i+1+n, cssURL) {
				return
			}
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case !inTag:
			inTag = c == '<'
		case c == '>':
			inTag = false
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			if a, b, kind, ok := payloadAttr(s, i); ok && !fn(a, b, kind) {
				return
			}
		}
	}
}

// payloadAttr is where the value of the attribute the '=' at s[i], in
// a tag, sets is, and its kind, when it is one of htmlPayload's
// attributes.
func payloadAttr(s string, i int) (a, b, kind int, ok bool) {
	j := i
	for j > 0 && isSpace(s[j-1]) {
		j--
	}
	k := j
	for k > 0 && (letterOrDigit(s[k-1]) || s[k-1] == '-' || s[k-1] == ':') {
		k--
	}
	switch strings.ToLower(s[k:j]) {
	case "href", "src", "action", "formaction", "background", "poster", "data", "lowsrc", "dynsrc", "xlink:href":
	case "srcset", "imagesrcset":
		kind = attrURLList
	default:
		return 0, 0, 0, false
	}
	a = i + 1
	for a < len(s) && isSpace(s[a]) {
		a++
	}
	end := " \t\r\n\f>"
	if a < len(s) && (s[a] == '"' || s[a] == '\'') {
		end = s[a : a+1]
		a++
	}
	b = len(s)
	if n := strings.IndexAny(s[a:], end); n >= 0 {
		b = a + n
	}
	return a, b, kind, true
}

// browserURL is the attribute value v as a browser reads it as a URL
// (the WHATWG URL standard): without leading and trailing C0 controls
// and spaces, and without any ASCII tab or newline. A link split by a
// newline at a place of each copy's own opens one page
// (TestReviewHrefNewline).
func browserURL(v string) string {
	v = strings.TrimFunc(v, func(r rune) bool { return r <= ' ' || unicode.IsSpace(r) })
	if !strings.ContainsAny(v, "\t\n\r") {
		return v
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v)
}

// attrURL is the attribute value v of a kind, as written in an HTML
// source, as a browser opens it: its character references decoded (a
// newline written "&#10;" is one), then browserURL (a list's
// whitespace separates its URLs: only trimmed); a quote or angle
// bracket a reference gave is percent-encoded, as the URL parser does
// in a path, so that the value stays one in the source (browserURLs).
func attrURL(v string, kind int) string {
	if strings.Contains(v, "&") {
		v = urlQuoted.Replace(html.UnescapeString(v))
	}
	if kind == attrURLList {
		return strings.TrimSpace(v)
	}
	return specialURL(browserURL(v))
}

var urlQuoted = strings.NewReplacer(`"`, "%22", "'", "%27", "<", "%3C", ">", "%3E")

// browserURLs is the HTML document s with each of htmlPayload's
// attribute values as a browser reads it (browserURL): the source the
// targets of its attributes are named from, as its links open.
func browserURLs(s string) string {
	var b strings.Builder
	last := 0
	payloadSpans(s, func(i, j int, kind int) bool {
		if v := s[i:j]; kind != cssURL {
			if w := attrURL(v, kind); w != v {
				b.WriteString(s[last:i])
				b.WriteString(w)
				last = j
			}
		}
		return true
	})
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// formPages is the HTML document s with the hidden inputs of each form
// posting to a page site that name its page (pageSite.keys: PayPal's
// donate form's hosted_button_id or business) added to the form's
// action as a query, as a GET of the form would send them: each
// organisation's own form is its own target, one form in every copy of
// a run one target (TestPageSiteToolAssets, TestPageSiteToolNoEvasion).
func formPages(s string) string {
	if !strings.Contains(s, "hidden") {
		return s
	}
	z := html.NewTokenizer(strings.NewReader(s))
	type insert struct {
		at    int        // where the action's value ends
		query bool       // the action has a query
		q     url.Values // the inputs naming the page
	}
	var ins []insert
	var keys []string // the keys of the open form's page site
	off := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := z.Raw()
		start := off
		off += len(raw)
		if tt == html.EndTagToken {
			if name, _ := z.TagName(); string(name) == "form" {
				keys = nil
			}
			continue
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, _ := z.TagName()
		switch string(name) {
		case "form":
			keys = nil
			tag := string(raw)
			payloadSpans(tag, func(a, b, kind int) bool {
				if u, err := url.Parse(attrURL(tag[a:b], kind)); err == nil {
					if site, ok := pageSites[registrable(asciiName(strings.ToLower(u.Hostname())))]; ok && len(site.keys) > 0 {
						keys = site.keys
						ins = append(ins, insert{start + b, u.RawQuery != "", url.Values{}})
					}
				}
				return false
			})
		case "input":
			if keys == nil {
				continue
			}
			attrs := map[string]string{}
			for {
				k, v, more := z.TagAttr()
				attrs[string(k)] = string(v)
				if !more {
					break
				}
			}
			if k := attrs["name"]; strings.EqualFold(attrs["type"], "hidden") && slices.Contains(keys, k) && attrs["value"] != "" {
				ins[len(ins)-1].q.Set(k, attrs["value"])
			}
		}
	}
	var b strings.Builder
	last := 0
	for _, in := range ins {
		if len(in.q) == 0 {
			continue
		}
		sep := "?"
		if in.query {
			sep = "&"
		}
		b.WriteString(s[last:in.at])
		b.WriteString(sep + in.q.Encode())
		last = in.at
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isSpace reports whether c is HTML's ASCII whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// token is one field's word, "" when it is left out (see Normalize).
func token(f string, names map[string]bool) string {
	// "www." in any case: no rune but W folds to w (unlike k and s), so
	// EqualFold of four bytes is ToLower's prefix without its copy.
	if strings.Contains(f, "://") || len(f) >= 4 && strings.EqualFold(f[:4], "www.") {
		return urlToken(f)
	}
	if strings.Contains(f, "@") {
		return "" // an address: the recipient's own, or a reply-to
	}
	f = fold(f)
	f = strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) })
	if f == "" || len(f) > 40 || names[f] {
		return ""
	}
	for _, r := range f {
		if unicode.IsDigit(r) {
			return ""
		}
	}
	return f
}

// urlToken keeps a link's registrable domain ("example.co.uk"): the
// tracking token of each copy is in its path, query or a subdomain.
func urlToken(f string) string {
	f = strings.Trim(f, "<>()[]\"',.;")
	if !strings.Contains(f, "://") {
		f = "http://" + f
	}
	u, err := url.Parse(f)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	host := fold(u.Hostname())
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		host = d
	}
	return "url:" + host
}

// fold maps a word to its skeleton: NFKC (full-width and ligature forms),
// accents and format characters (zero-width joiners and spaces, bidi
// marks) removed, Latin look-alikes mapped, lower case. It never grows a
// word beyond a few times its length.
func fold(s string) string {
	if printableASCII(s) {
		// NFKD, the marks and the look-alikes leave printable ASCII
		// as it is: most words of most mail, at a fraction of the cost.
		return strings.ToLower(s)
	}
	return foldRunes(s)
}

// foldRunes is fold of any text.
func foldRunes(s string) string {
	s = norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		// Other_Default_Ignorable_Code_Point: letters a reader does not
		// see (the Hangul fillers, Khmer's inherent vowels), as the format
		// characters: scattered in each copy's words they made every
		// copy other words (TestReviewInvisibleLetters).
		case r == utf8.RuneError, unicode.Is(unicode.Mn, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Cc, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
			continue
		}
		if m, ok := lookalike[r]; ok {
			r = m
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// lookalike maps the Cyrillic and Greek letters that render as Latin ones
// (Unicode's confusables.txt, the letters a homoglyph attack uses) to
// them. A table this size is clearer here than a dependency: none of the
// Go confusables packages is maintained, and only letters matter.
var lookalike = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x',
	'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ӏ': 'l', 'һ': 'h', 'ԛ': 'q', 'ԝ': 'w', 'ɡ': 'g',
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't', 'У': 'y', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's',
	'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x', 'γ': 'y',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o', 'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
	'ı': 'i', 'ℓ': 'l',
	// Latin letters of other alphabets (IPA, small capitals) and the
	// Cyrillic, Greek and Armenian ones confusables.txt lists as Latin
	// look-alikes; each script's letters map to distinct Latin ones, so
	// no two words of one language become one.
	'ɑ': 'a', 'ɩ': 'i', 'ɪ': 'i', 'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ɢ': 'g', 'ʜ': 'h', 'ᴊ': 'j', 'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n',
	'ᴏ': 'o', 'ᴘ': 'p', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z',
	'ҽ': 'e', 'ꙇ': 'i', 'ѵ': 'v', 'ү': 'y', 'ԍ': 'g',
	'ς': 'c', 'ϳ': 'j', // ς: the lunate sigma ϲ after NFKD
	'օ': 'o', 'ս': 'u', 'ո': 'n', 'հ': 'h', 'ց': 'g',
}

// Names are the words of the recipients' names and addresses that a mail
// merge puts in each copy: display names and the local parts' pieces
// ("john.smith" gives john and smith), folded as tokens are.
func Names(addrs ...string) map[string]bool {
	out := map[string]bool{}
	for _, w := range nameWords(addrs...) {
		out[w] = true
	}
	return out
}

// nameWords are Names' words in the order of addrs.
func nameWords(addrs ...string) []string {
	var out []string
	for _, a := range addrs {
		for _, f := range strings.FieldsFunc(a, func(r rune) bool {
			return r == '@' || r == '.' || r == '_' || r == '-' || r == '+' || r == '<' || r == '>' || r == '"' || r == ',' || unicode.IsSpace(r)
		}) {
			if w := fold(f); len(w) > 1 {
				out = append(out, w)
			}
		}
	}
	return out
}
