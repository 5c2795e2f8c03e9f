package mimewalk

import (
	"bufio"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// newEntity is message.New with the faster base64 decoding.
func newEntity(h message.Header, body io.Reader) (*message.Entity, error) {
	mt, _, _ := h.ContentType()
	if strings.EqualFold(strings.TrimSpace(h.Get("Content-Transfer-Encoding")), "base64") && !strings.HasPrefix(mt, "multipart/") {
		plain := h.Copy()
		plain.Del("Content-Transfer-Encoding")
		e, err := message.New(plain, newB64Reader(body))
		if e != nil {
			e.Header = h
		}
		return e, err
	}
	return message.New(h, body)
}

// readEntity is message.Read with newEntity.
func readEntity(r io.Reader) (*message.Entity, error) {
	br := bufio.NewReader(r)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	return newEntity(message.Header{Header: h}, br)
}

// parts iterates the parts of a multipart entity.
type parts struct{ mr *textproto.MultipartReader }

func multipartOf(e *message.Entity) *parts {
	mt, params, _ := e.Header.ContentType()
	if !strings.HasPrefix(mt, "multipart/") {
		return nil
	}
	return &parts{textproto.NewMultipartReader(e.Body, params["boundary"])}
}

func (p *parts) next() (*message.Entity, error) {
	part, err := p.mr.NextPart()
	if err != nil {
		return nil, err
	}
	return newEntity(message.Header{Header: part.Header}, part)
}
