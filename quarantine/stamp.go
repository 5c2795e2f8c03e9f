package quarantine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/emersion/go-message/textproto"

	"outguard/policy"
)

// Stamper gives the header fields a released message loses and gains:
// complaint references (complaint.Stamper.Fields), sealed at release for
// the smarthost and queue id that held the message and its account, so
// that complaints about released mail are attributed as about any other.
type Stamper func(host, queueID, account string) (remove []string, add []policy.Header, err error)

// Holder is the quarantine as milterd holds into it when released mail is
// stamped: each record keeps the account the limits engine counted the
// message against (Record.Account), which the stamp names.
type Holder struct {
	s         *Store
	accountOf func(*policy.Transaction) (string, bool)
}

// WithAccounts returns the Holder of s recording accounts by accountOf
// (limits.Engine.AccountOf).
func (s *Store) WithAccounts(accountOf func(*policy.Transaction) (string, bool)) Holder {
	return Holder{s, accountOf}
}

// Hold is Store.Hold, with the account recorded.
func (h Holder) Hold(ctx context.Context, t *policy.Transaction, v policy.Verdict) (string, error) {
	acct, _ := h.accountOf(t)
	return h.s.hold(ctx, t, v, acct)
}

// stamped returns msg with the fields of Stamp: the ones of those names it
// came with removed (a customer's forged reference), ours on top. An entry
// held without an account (before stamping, or without complaints) loses
// the fields and gains none.
func (s *Store) stamped(rec Record, msg io.Reader) (io.Reader, error) {
	if s.Stamp == nil {
		return msg, nil
	}
	remove, add, err := s.Stamp(rec.Host, rec.QueueID, rec.Account)
	if err != nil {
		return nil, fmt.Errorf("stamping the complaint reference: %w", err)
	}
	br := bufio.NewReader(msg)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, fmt.Errorf("stamping the complaint reference: the message's header: %w", err)
	}
	for _, name := range remove {
		h.Del(name)
	}
	for i := len(add) - 1; i >= 0; i-- { // each on top, unfolded as milterd adds them
		h.AddRaw([]byte(add[i].Name + ": " + add[i].Value + "\r\n"))
	}
	var b bytes.Buffer
	if err := textproto.WriteHeader(&b, h); err != nil {
		return nil, err
	}
	return io.MultiReader(&b, br), nil
}
