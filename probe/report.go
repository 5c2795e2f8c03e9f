package probe

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes findings as a table for people.
func WriteTable(w io.Writer, fs []OpenService) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTARGET\tSERVICE\tRESULT\tTEST\tRDNS\tCUSTOMER\tEVIDENCE")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Time.Format(time.RFC3339), f.Target, f.Service, f.Result, f.Test,
			dash(f.RDNS), dash(f.Customer), f.Evidence)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON writes one JSON object per finding and line.
func WriteJSON(w io.Writer, fs []OpenService) error {
	enc := json.NewEncoder(w)
	for _, f := range fs {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return nil
}

// xarf is an X-ARF v4 report (xarf.org, schemas/v4/xarf-core.json and
// types/vulnerability-open-service.json): category vulnerability, type
// open_service, one report per confirmed finding. probe/testdata/xarf
// holds the published schema the tests validate against.
type xarf struct {
	Version          string     `json:"xarf_version"`
	ReportID         string     `json:"report_id"`
	Timestamp        string     `json:"timestamp"`
	Reporter         xarfParty  `json:"reporter"`
	Sender           xarfParty  `json:"sender"`
	SourceIdentifier string     `json:"source_identifier"`
	SourcePort       int        `json:"source_port"`
	Category         string     `json:"category"`
	Type             string     `json:"type"`
	Service          string     `json:"service"`
	EvidenceSource   string     `json:"evidence_source"`
	Evidence         []xarfItem `json:"evidence"`
	Confidence       float64    `json:"confidence"`
	Description      string     `json:"description"`
	Tags             []string   `json:"tags,omitempty"`
}

type xarfParty struct {
	Org     string `json:"org"`
	Contact string `json:"contact"`
	Domain  string `json:"domain"`
}

type xarfItem struct {
	ContentType string `json:"content_type"`
	Description string `json:"description"`
	Payload     string `json:"payload"`
	Hash        string `json:"hash"`
}

// WriteXARF writes one X-ARF v4 JSON report per line for each confirmed
// finding; suspected ones are not reports. The reporter is required: a
// report nobody can answer is no report.
func WriteXARF(w io.Writer, fs []OpenService, rep Reporter) error {
	if err := rep.Check(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	party := xarfParty{Org: rep.Org, Contact: rep.Contact, Domain: rep.Domain}
	for _, f := range fs {
		if f.Result != Confirmed {
			continue
		}
		ap, err := netip.ParseAddrPort(f.Target)
		if err != nil {
			return err
		}
		ev := f.Test + ": " + f.Evidence
		sum := sha256.Sum256([]byte(ev))
		r := xarf{
			Version: "4.0.0", ReportID: uuid4(), Timestamp: f.Time.UTC().Format(time.RFC3339),
			Reporter: party, Sender: party,
			SourceIdentifier: ap.Addr().String(), SourcePort: int(ap.Port()),
			Category: "vulnerability", Type: "open_service", Service: f.Service,
			EvidenceSource: "vulnerability_scan",
			Evidence: []xarfItem{{ContentType: "text/plain", Description: "relayprobe test and what the canary received",
				Payload: base64.StdEncoding.EncodeToString([]byte(ev)), Hash: "sha256:" + hex.EncodeToString(sum[:])}},
			Confidence:  1.0,
			Description: fmt.Sprintf("Open %s at %s: confirmed by a test message or connection that reached the reporter's canary", f.Service, f.Target),
		}
		if f.Customer != "" {
			r.Tags = append(r.Tags, "customer:"+tagValue(f.Customer))
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// Check tells whether the reporter has what X-ARF requires of one: an
// organisation, a contact address and a domain.
func (r Reporter) Check() error {
	var missing []string
	if strings.TrimSpace(r.Org) == "" {
		missing = append(missing, "reporter.org")
	}
	if _, err := mail.ParseAddress(r.Contact); err != nil || !strings.Contains(r.Contact, "@") || strings.ContainsAny(r.Contact, "<> ") {
		missing = append(missing, "reporter.contact (an e-mail address)")
	}
	if !validDomain(r.Domain) {
		missing = append(missing, "reporter.domain")
	}
	if len(missing) > 0 {
		return fmt.Errorf("X-ARF reports need the config's %s", strings.Join(missing, ", "))
	}
	return nil
}

// validDomain: a host name of labels of letters, digits and hyphens (RFC
// 1123 2.1), as X-ARF's format "hostname" wants.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// tagValue fits a value to X-ARF's tag predicate [a-z0-9][a-z0-9_+-]*.
func tagValue(s string) string {
	b := []byte{}
	for _, c := range []byte(s) {
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '+', c == '-':
			b = append(b, c)
		default:
			b = append(b, '-')
		}
	}
	if len(b) == 0 || !(b[0] >= 'a' && b[0] <= 'z' || b[0] >= '0' && b[0] <= '9') {
		b = append([]byte("c"), b...)
	}
	return string(b)
}

// uuid4 is a random UUID (RFC 9562 5.4).
func uuid4() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
