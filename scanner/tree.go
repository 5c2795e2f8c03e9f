// Package scanner walks MIME messages.
package scanner

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode RFC 2047 names in any charset
)

// Part is one leaf of a message as a reader sees it.
type Part struct {
	Path        string `json:"path"` // "1.2": the second part of the first part
	ContentType string `json:"content_type"`
	Filename    string `json:"filename,omitempty"` // decoded (RFC 2047, RFC 2231); only a string, never a path
	Size        int64  `json:"size"`               // decoded bytes
	Problem     string `json:"problem,omitempty"`  // malformed MIME met here
}

// maxDepth bounds nesting of multiparts and attached messages.
const maxDepth = 32

// Tree lists the leaf parts of the message read from r, descending into
// multipart/* and message/rfc822. Malformed MIME is reported on the part,
// not as an error: Tree returns an error only when r cannot be read at all.
func Tree(r io.Reader) ([]Part, error) {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		if e == nil {
			return nil, err
		}
	}
	var parts []Part
	walk(e, "1", 0, &parts)
	return parts, nil
}

func walk(e *message.Entity, path string, depth int, parts *[]Part) {
	ct, _, _ := e.Header.ContentType()
	if ct == "" {
		ct = "text/plain"
	}
	if depth > maxDepth {
		*parts = append(*parts, Part{Path: path, ContentType: ct, Problem: "nesting too deep"})
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		for i := 1; ; i++ {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil && p == nil {
				*parts = append(*parts, Part{Path: fmt.Sprintf("%s.%d", path, i), ContentType: ct, Problem: err.Error()})
				return
			}
			walk(p, fmt.Sprintf("%s.%d", path, i), depth+1, parts)
		}
	}
	if ct == "message/rfc822" {
		inner, err := message.Read(e.Body)
		if inner != nil && (err == nil || message.IsUnknownCharset(err)) {
			walk(inner, path+".1", depth+1, parts)
			return
		}
	}
	p := Part{Path: path, ContentType: ct, Filename: filename(e.Header)}
	n, err := io.Copy(io.Discard, e.Body)
	p.Size = n
	if err != nil {
		p.Problem = err.Error()
	}
	*parts = append(*parts, p)
}

var wordDecoder = mime.WordDecoder{CharsetReader: message.CharsetReader}

// filename is the declared name: Content-Disposition filename (RFC 2231
// decoded by the parameter parser), else Content-Type name; RFC 2047
// encoded words are decoded too, as mail clients do.
func filename(h message.Header) string {
	_, params, _ := h.ContentDisposition()
	name := params["filename"]
	if name == "" {
		_, params, _ = h.ContentType()
		name = params["name"]
	}
	if strings.Contains(name, "=?") {
		if dec, err := wordDecoder.DecodeHeader(name); err == nil {
			name = dec
		}
	}
	return name
}
