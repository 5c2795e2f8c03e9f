// Package mimewalk walks MIME messages: decoded parts and archive members,
// each an Item to scan, and the Anomalies met on the way.
package mimewalk

import (
	"context"
	"io"
	"mime"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode RFC 2047 names in any charset
)

// Part is one item of the walk as a reviewer sees it: a MIME leaf or an
// archive member, with what the walk met on it.
type Part struct {
	Path        string    `json:"path"` // "1.2", "1.2/invoice.zip/x.exe", "1.3/flat"
	ContentType string    `json:"content_type"`
	Filename    string    `json:"filename,omitempty"` // decoded (RFC 2047, RFC 2231); only a string, never a path
	Size        int64     `json:"size"`               // decoded bytes scanned
	Anomalies   []Anomaly `json:"findings,omitempty"`
}

// Parts lists exactly what Walk with lim scans of the message, with the
// findings on each item: the quarantine review shows the tree the
// scanner used, from the same walker. Findings on no item (a container)
// come back alone.
func Parts(ctx context.Context, r io.ReaderAt, size int64, lim Limits) ([]Part, []Anomaly, error) {
	var parts []Part
	findings, err := Walk(ctx, r, size, lim, func(it *Item) error {
		parts = append(parts, Part{Path: it.Path, ContentType: it.ContentType, Filename: it.Filename, Size: it.Data.Size()})
		return nil
	})
	var rest []Anomaly
	for _, f := range findings {
		placed := false
		for i := range parts {
			if parts[i].Path == f.Path {
				parts[i].Anomalies = append(parts[i].Anomalies, f)
				placed = true
			}
		}
		if !placed {
			rest = append(rest, f)
		}
	}
	return parts, rest, err
}

var wordDecoder = mime.WordDecoder{CharsetReader: message.CharsetReader}
