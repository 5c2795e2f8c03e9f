package setup

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"outguard/config"
	"outguard/limits"
	"outguard/quarantine"
)

// Alerter builds the limits' alerter of cfg on store: alerts go through
// the store's outbox, which Courier delivers.
func Alerter(cfg *config.Config, store limits.Store, log *slog.Logger) *limits.Alerter {
	l := cfg.Limits
	a := &limits.Alerter{Sender: l.Alert.Sender(), Log: log, MailTo: l.Alert.MailTo, MailCustomer: l.Alert.MailCustomer,
		Timeout: StoreTimeout(cfg), Customer: customerAddress(l)}
	if store != nil { // nil: the config validated alone
		a.Outbox, a.Once = store, store
	}
	return a
}

// customerAddress is an account's own address: its override's address,
// or its login when that is an address. Never one from message content.
func customerAddress(l *config.Limits) func(string) string {
	addrs := map[string]string{}
	for user, u := range l.Users {
		if l.LoginCase == "fold" {
			user = strings.ToLower(user)
		}
		if u.Address != "" {
			addrs[user] = u.Address
		}
	}
	return func(account string) string {
		if a := addrs[account]; a != "" {
			return a
		}
		if limits.IsAddress(account) {
			return account
		}
		return ""
	}
}

// Courier builds the deliverer of store's outbox (nil without a limits
// section). Mail notices are submitted as quarantine releases are: over
// SMTP to the quarantine's release address, with the null sender (a
// notice that cannot be delivered bounces to no one).
func Courier(cfg *config.Config, store limits.Store, log *slog.Logger) *limits.Courier {
	l := cfg.Limits
	if l == nil || store == nil {
		return nil
	}
	c := &limits.Courier{Store: store, Host: cfg.HostName(), Sender: l.Alert.Sender(), Log: log, Contact: l.Contact}
	if q := cfg.Quarantine; q != nil {
		c.From = "MAILER-DAEMON@" + cfg.HostName()
		if limits.IsAddress(l.Contact) {
			c.From = l.Contact
		}
		c.Inject = func(ctx context.Context, to []string, msg io.Reader) error {
			_, err := quarantine.Inject(ctx, q.ReleaseAddress, "", to, msg, time.Duration(q.ReleaseTimeout))
			return err
		}
	}
	return c
}
