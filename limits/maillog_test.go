package limits

import (
	"reflect"
	"testing"
	"time"
)

func TestParseLogLine(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.Local)
	cases := []struct {
		line string
		want LogLine
		ok   bool
	}{
		{"Nov 28 01:06:41 smarthost postfix/smtp[9537]: 4F1A2B3C4D: to=<nobody@remote.test>, relay=mx.remote.test[192.0.2.1]:25, delay=0.2, delays=0.1/0/0.05/0.05, dsn=5.1.1, status=bounced (host mx.remote.test[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command))",
			LogLine{Time: time.Date(2026, 11, 28, 1, 6, 41, 0, time.Local), QueueID: "4F1A2B3C4D", PID: "9537", Kind: "bounced", Rcpts: []string{"nobody@remote.test"}, DSN: "5.1.1", Text: "host mx.remote.test[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)"}, true},
		{"2026-11-28T01:06:41.123456+00:00 smarthost postfix-submission/smtpd[77]: 3vXyZ1abcde: client=dsl.example.net[203.0.113.7], sasl_method=PLAIN, sasl_username=alice@example.net",
			LogLine{Time: time.Date(2026, 11, 28, 1, 6, 41, 123456000, time.UTC), QueueID: "3vXyZ1abcde", PID: "77", Kind: "sasl", User: "alice@example.net"}, true},
		// qmgr's expiry names no recipient: the follower charges those not delivered.
		{"Nov  3 09:00:00 h postfix/qmgr[1]: ABCDEF123: from=<alice@customer.test>, status=expired, returned to sender",
			LogLine{Time: time.Date(2026, 11, 3, 9, 0, 0, 0, time.Local), QueueID: "ABCDEF123", PID: "1", Kind: "expired", DSN: "4.4.7", Text: "still undeliverable when the message expired in the queue"}, true},
		{"Dec 31 23:59:59 h postfix/smtp[1]: ABCDEF123: to=<x@y>, relay=r, dsn=5.0.0, status=bounced (x)",
			LogLine{Time: time.Date(2025, 12, 31, 23, 59, 59, 0, time.Local), QueueID: "ABCDEF123", PID: "1", Kind: "bounced", Rcpts: []string{"x@y"}, DSN: "5.0.0", Text: "x"}, true},
		{"Nov 28 01:06:41 h postfix/smtp[1]: ABCDEF123: to=<x@y>, relay=r, dsn=2.0.0, status=sent (250 ok)",
			LogLine{Time: time.Date(2026, 11, 28, 1, 6, 41, 0, time.Local), QueueID: "ABCDEF123", PID: "1", Kind: "sent", Rcpts: []string{"x@y"}}, true},
		{"Nov 28 01:06:41 h postfix/smtp[1]: ABCDEF123: to=<x@y>, relay=r, dsn=4.2.0, status=deferred (450 try later)", LogLine{}, false},
		{"Nov 28 02:26:15 h sendmail[16219]: 6AS2QFpo016217: to=<gone@remote.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30118, relay=[127.0.0.1] [127.0.0.1], dsn=5.1.1, stat=User unknown",
			LogLine{Time: time.Date(2026, 11, 28, 2, 26, 15, 0, time.Local), QueueID: "6AS2QFpo016217", PID: "16219", Kind: "bounced", Rcpts: []string{"gone@remote.test"}, DSN: "5.1.1", Text: "User unknown"}, true},
		{"Nov 28 02:26:15 h sendmail[16219]: 6AS2QFpo016217: to=<ok@remote.test>, delay=00:00:00, mailer=esmtp, dsn=2.0.0, stat=Sent (ok)",
			LogLine{Time: time.Date(2026, 11, 28, 2, 26, 15, 0, time.Local), QueueID: "6AS2QFpo016217", PID: "16219", Kind: "sent", Rcpts: []string{"ok@remote.test"}, DSN: "2.0.0", Text: "Sent (ok)"}, true},
		{"Nov 28 02:26:15 h sendmail[16219]: 6AS2QFpo016217: to=<ok@remote.test>, delay=00:00:00, mailer=esmtp, dsn=4.4.2, stat=Deferred", LogLine{}, false},
		{"Nov 28 02:26:15 h sm-mta[7870]: AUTH=server, relay=localhost [127.0.0.1], authid=bob, mech=PLAIN, bits=0",
			LogLine{Time: time.Date(2026, 11, 28, 2, 26, 15, 0, time.Local), PID: "7870", Kind: "auth", User: "bob", Relay: "localhost [127.0.0.1]"}, true},
		{"Nov 28 02:26:15 h sm-mta[7870]: 6AS8jD9h007870: ruleset=check_rcpt, arg1=<gone1@remote.test>, relay=localhost [127.0.0.1], reject=550 5.1.1 <gone1@remote.test>... no such user",
			LogLine{Time: time.Date(2026, 11, 28, 2, 26, 15, 0, time.Local), QueueID: "6AS8jD9h007870", PID: "7870", Kind: "refused", Rcpts: []string{"gone1@remote.test"}, DSN: "5.1.1", Text: "550 5.1.1 <gone1@remote.test>... no such user", Relay: "localhost [127.0.0.1]"}, true},
		{"Nov 28 02:26:15 h sm-mta[7870]: 6AS8jD9h007870: ruleset=check_rcpt, arg1=<busy@remote.test>, relay=localhost [127.0.0.1], reject=451 4.3.0 try later", LogLine{}, false},
		{"Nov 28 01:06:41 h postfix/smtpd[1]: ABCDEF123: client=localhost[127.0.0.1]", LogLine{}, false},
		{"Nov 28 01:06:41 h postfix/smtpd[1]: connect from localhost[127.0.0.1]", LogLine{}, false},
		// The smarthost rewrote the recipient: the record has the original.
		{"Nov 28 01:06:41 h postfix/smtp[1]: ABCDEF123: to=<bob@mailhost.isp.test>, orig_to=<bob@customer.test>, relay=r, dsn=2.0.0, status=sent (250 ok)",
			LogLine{Time: time.Date(2026, 11, 28, 1, 6, 41, 0, time.Local), QueueID: "ABCDEF123", PID: "1", Kind: "sent", Rcpts: []string{"bob@customer.test"}}, true},
		{"Nov 28 01:06:41 h postfix/smtp[1]: ABCDEF123: to=<a@remote.test>, relay=127.0.0.1[127.0.0.1]:45331, delay=0.21, dsn=5.3.0, status=bounced (host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed (in reply to end of DATA command))",
			LogLine{Time: time.Date(2026, 11, 28, 1, 6, 41, 0, time.Local), QueueID: "ABCDEF123", PID: "1", Kind: "bounced", Rcpts: []string{"a@remote.test"}, DSN: "5.3.0", Text: "host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed (in reply to end of DATA command)"}, true},
		// Real Sendmail 8.17, a receiver refusing at end of DATA (smtp-sink -f .).
		{"Nov 28 08:42:09 localhost sendmail[24049]: 6AU8g9FM024046: [127.0.0.1]: SMTP DATA-2 protocol error: 500 5.3.0 Error: command failed",
			LogLine{Time: time.Date(2026, 11, 28, 8, 42, 9, 0, time.Local), QueueID: "6AU8g9FM024046", PID: "24049", Kind: "data"}, true},
		{"Nov 28 08:42:09 localhost sendmail[24049]: 6AU8g9FM024046: to=<b@remote.test>,<a@remote.test>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=60093, relay=[127.0.0.1] [127.0.0.1], dsn=5.3.0, reply=500 5.3.0 Error: command failed, stat=Remote protocol error",
			LogLine{Time: time.Date(2026, 11, 28, 8, 42, 9, 0, time.Local), QueueID: "6AU8g9FM024046", PID: "24049", Kind: "bounced", Rcpts: []string{"b@remote.test", "a@remote.test"}, DSN: "5.3.0", Text: "500 5.3.0 Error: command failed (Remote protocol error)"}, true},
		{"Nov 28 08:42:09 localhost sendmail[24045]: 6AU8g96B024045: mta.outguard.test [127.0.0.1] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
			LogLine{Time: time.Date(2026, 11, 28, 8, 42, 9, 0, time.Local), QueueID: "6AU8g96B024045", PID: "24045", Kind: "end"}, true},
		{"Nov 28 08:42:09 localhost sendmail[24046]: 6AU8g9FM024046: from=<carol@customer.test>, size=93, class=0, nrcpts=2, msgid=<x@client.test>, proto=ESMTP, daemon=MTA, relay=mta.outguard.test [127.0.0.1]",
			LogLine{Time: time.Date(2026, 11, 28, 8, 42, 9, 0, time.Local), QueueID: "6AU8g9FM024046", PID: "24046", Kind: "end"}, true},
		{"Nov 28 08:42:09 localhost sendmail[24046]: 6AU8g9FM024046: from=<alice@customer.test>, size=93, class=0, nrcpts=2, msgid=<x@client.test>, bodytype=8BITMIME, proto=ESMTPA, daemon=MTA, relay=mta.outguard.test [127.0.0.1]", LogLine{}, false},
		// Real Sendmail 8.17: a message expired in the queue; a delay
		// warning is not an expiry.
		{"Nov 28 09:32:07 localhost sendmail[11234]: 6AU9W4Gw011007: 6AU9W7aN011234: DSN: Cannot send message for 1 second",
			LogLine{Time: time.Date(2026, 11, 28, 9, 32, 7, 0, time.Local), QueueID: "6AU9W4Gw011007", PID: "11234", Kind: "expired", DSN: "4.4.7", Text: "still undeliverable when the message expired in the queue"}, true},
		{"Nov 28 09:32:07 localhost sendmail[11234]: 6AU9W4Gw011007: 6AU9W7aN011234: DSN: Warning: could not send message for past 4 hours", LogLine{}, false},
		{"garbage", LogLine{}, false},
		{"", LogLine{}, false},
	}
	for _, c := range cases {
		got, ok := ParseLogLine(c.line, now)
		timeOK := got.Time.Equal(c.want.Time)
		got.Time, c.want.Time = time.Time{}, time.Time{}
		if ok != c.ok || !reflect.DeepEqual(got, c.want) || !timeOK {
			t.Errorf("%s\n got %+v %v\nwant %+v %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseLogLine(f *testing.F) {
	for _, s := range []string{
		"Nov 28 01:06:41 h postfix/smtp[9537]: 4F1A2B3C4D: to=<a@b>, relay=r, dsn=5.1.1, status=bounced (said: 550)",
		"2026-11-28T01:06:41Z h postfix/smtpd[1]: ABCDE: client=c[1.2.3.4], sasl_method=PLAIN, sasl_username=u",
		"Nov  3 09:00:00 h postfix/qmgr[1]: ABCDEF: from=<a@b>, status=expired, returned to sender",
		"Nov 28 08:42:09 localhost sendmail[24049]: 6AU8g9FM024046: to=<b@remote.test>,<a@remote.test>, delay=00:00:00, mailer=esmtp, dsn=5.3.0, reply=500 5.3.0 Error: command failed, stat=Remote protocol error",
		"Nov 28 01:06:41 h postfix/smtp[1]: ABCDEF123: to=<b@mailhost.isp.test>, orig_to=<b@customer.test>, relay=r, dsn=2.0.0, status=sent (250 ok)",
	} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, line string) {
		l, ok := ParseLogLine(line, now)
		if ok && l.QueueID == "" && l.Kind != "auth" && l.Kind != "end" {
			t.Fatalf("parsed without a queue id: %q", line)
		}
		if ok && l.Kind == "sasl" && l.User == "" {
			t.Fatalf("sasl line without user: %q", line)
		}
	})
}
