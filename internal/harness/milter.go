package harness

import (
	gomilter "github.com/d--j/go-milter"
)

// MilterSend runs one whole message through the milter at the unix socket
// as an MTA would (body in the protocol's largest chunks) and returns the
// modifications and the final action.
func MilterSend(t T, socket string, body []byte) ([]gomilter.ModifyAction, *gomilter.Action) {
	t.Helper()
	s, err := MilterHeaders("unix", socket, " test")
	if err != nil {
		t.Fatalf("milter session: %v", err)
	}
	defer s.Close()
	for len(body) > 0 {
		n := min(len(body), 65535) // the milter protocol's largest body chunk
		if _, err := s.BodyChunk(body[:n]); err != nil {
			t.Fatalf("milter body: %v", err)
		}
		body = body[n:]
	}
	mods, act, err := s.End()
	if err != nil {
		t.Fatalf("milter end: %v", err)
	}
	return mods, act
}

// MilterHeaders opens a session with the milter at addr (network unix or
// tcp) and runs a message as an MTA would up to the end of its headers
// (one, Subject: subject, its leading space included); the caller sends
// the body, ends the message and closes the session.
func MilterHeaders(network, addr, subject string) (*gomilter.ClientSession, error) {
	s, err := gomilter.NewClient(network, addr).Session(gomilter.NewMacroBag())
	if err != nil {
		return nil, err
	}
	// The stages' errors show at the next step the caller takes (End).
	s.Conn("h", gomilter.FamilyInet, 1, "127.0.0.1")
	s.Helo("h")
	s.Mail("a@example.net", "")
	s.Rcpt("b@remote.test", "")
	s.DataStart()
	s.HeaderField("Subject", subject, nil)
	s.HeaderEnd()
	return s, nil
}
