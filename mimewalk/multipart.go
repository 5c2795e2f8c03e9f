package mimewalk

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// newEntity is the entity with its body as it is: the walk decodes the
// transfer encoding itself (every reading of an ambiguous one) and leaves
// the charset alone, unlike message.New.
func newEntity(h message.Header, body io.Reader) *message.Entity {
	return &message.Entity{Header: h, Body: body}
}

// readEntity is message.Read with newEntity.
func readEntity(r io.Reader) (*message.Entity, error) {
	br := bufio.NewReader(r)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	return newEntity(message.Header{Header: h}, br), nil
}

// parts iterates the parts of a multipart entity.
type parts struct{ mr *textproto.MultipartReader }

// multipartOf returns the parts of a multipart entity, and its preamble
// (RFC 2046 5.1.1: the text before the first boundary, which the part
// reader skips; ripmime and some clients show it), at most max bytes.
func multipartOf(e *message.Entity, max int64) (*parts, []byte) {
	mt, params, _ := e.Header.ContentType()
	if !strings.HasPrefix(mt, "multipart/") {
		return nil, nil
	}
	delim := []byte("--" + params["boundary"])
	br := bufio.NewReader(e.Body)
	var pre []byte
	var first []byte // the first boundary line, given back to the part reader
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, delim) {
			first = append([]byte{}, line...)
			break
		}
		if int64(len(pre)+len(line)) <= max {
			pre = append(pre, line...)
		}
		if err != nil && err != bufio.ErrBufferFull {
			break
		}
	}
	return &parts{textproto.NewMultipartReader(io.MultiReader(bytes.NewReader(first), br), params["boundary"])}, pre
}

func (p *parts) next() (*message.Entity, error) {
	part, err := p.mr.NextPart()
	if err != nil {
		return nil, err
	}
	return newEntity(message.Header{Header: part.Header}, part), nil
}
