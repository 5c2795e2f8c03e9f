package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"outguard/config"
	"outguard/quarantine"
)

// digest is what was held in a period, for the abuse desk: by account, by
// rule or signature, and the newest entries with their ids.
type digest struct {
	Since     time.Time     `json:"since"`
	Until     time.Time     `json:"until"`
	Held      int           `json:"held"`
	ByAccount []count       `json:"by_account"`
	ByFinding []count       `json:"by_finding"`
	Newest    []digestEntry `json:"newest"`
}

// digestEntry is an entry of the digest, with a link to its page on the
// web console when web.url is set.
type digestEntry struct {
	quarantine.Record
	URL string `json:"url,omitempty"`
}

type count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

const digestNewest = 10

func makeDigest(recs []quarantine.Record, since, until time.Time, webURL string) digest {
	d := digest{Since: since, Until: until, Held: len(recs)}
	accounts, findings := map[string]int{}, map[string]int{}
	for _, r := range recs {
		accounts[orDash(r.User)]++
		seen := map[string]bool{}
		for _, f := range r.Findings {
			name := f.Engine
			if f.Name != "" {
				name += " " + f.Name
			}
			if !seen[name] { // a rule matching three parts holds one message
				seen[name] = true
				findings[name]++
			}
		}
	}
	d.ByAccount, d.ByFinding = counts(accounts), counts(findings)
	for _, r := range recs[:min(len(recs), digestNewest)] { // List is newest first
		e := digestEntry{Record: r}
		if webURL != "" {
			e.URL = strings.TrimRight(webURL, "/") + "/quarantine/" + url.PathEscape(r.ID)
		}
		d.Newest = append(d.Newest, e)
	}
	return d
}

func counts(m map[string]int) []count {
	out := make([]count, 0, len(m))
	for k, v := range m {
		out = append(out, count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || out[i].Count == out[j].Count && out[i].Name < out[j].Name
	})
	return out
}

func (d digest) text(w io.Writer) {
	fmt.Fprintf(w, "outguard quarantine: %d held from %s to %s\n", d.Held, d.Since.Local().Format(time.DateTime), d.Until.Local().Format(time.DateTime))
	for _, part := range []struct {
		title string
		rows  []count
	}{{"By account", d.ByAccount}, {"By rule or signature", d.ByFinding}} {
		fmt.Fprintf(w, "\n%s:\n", part.title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range part.rows {
			fmt.Fprintf(tw, "  %d\t%s\n", c.Count, field(c.Name))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nNewest (milterctl quarantine show ID):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range d.Newest {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", field(r.ID), r.Time.Local().Format(time.DateTime), field(orDash(r.User)), field(r.Reason))
		if r.URL != "" {
			fmt.Fprintf(tw, "  \t\t\t%s\n", field(r.URL))
		}
	}
	tw.Flush()
}

// digestCmd prints the digest, or mails it to quarantine.digest_to through
// the release path.
func digestCmd(ctx context.Context, cfg *config.Config, q *quarantine.Store, since time.Duration, asJSON, mail bool, out io.Writer) error {
	now := time.Now()
	recs, err := q.List(ctx, quarantine.Filter{Since: now.Add(-since)})
	if err != nil {
		return err
	}
	var webURL string
	if cfg.Web != nil {
		webURL = cfg.Web.URL
	}
	d := makeDigest(recs, now.Add(-since), now, webURL)
	if !mail {
		if asJSON {
			return json.NewEncoder(out).Encode(d)
		}
		d.text(out)
		return nil
	}
	to := cfg.Quarantine.DigestTo
	if to == "" {
		return errors.New("--mail needs quarantine.digest_to in the config")
	}
	from := cfg.Quarantine.DigestFrom
	if from == "" {
		from = to
	}
	host := cfg.HostName()
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: <%s>\r\nTo: <%s>\r\nSubject: outguard quarantine digest: %d held on %s\r\nDate: %s\r\nMessage-ID: <digest.%d@%s>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		from, to, d.Held, host, now.Format(time.RFC1123Z), now.UnixNano(), host)
	var body bytes.Buffer
	d.text(terminal{&body}) // what a message carries, escaped in the report too
	msg.WriteString(strings.ReplaceAll(body.String(), "\n", "\r\n"))
	reply, err := quarantine.Inject(ctx, cfg.Quarantine.ReleaseAddress, from, []string{to}, &msg, time.Duration(cfg.Quarantine.ReleaseTimeout))
	if err != nil {
		return fmt.Errorf("mailing the digest to %s: %s: %w", to, reply, err)
	}
	fmt.Fprintf(out, "digest of %d held entries mailed to %s: %s\n", d.Held, to, reply)
	return nil
}
