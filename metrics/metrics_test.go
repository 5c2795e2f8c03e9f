package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

func TestErrorKind(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("clamd: %w", context.DeadlineExceeded):                                    "timeout",
		&net.OpError{Op: "dial", Err: &net.DNSError{IsTimeout: true}}:                        "timeout",
		fmt.Errorf("clamd unix:/x: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}): "unreachable",
		errors.New("yara: bad rule"):                                                         "error",
	} {
		if got := errorKind(err); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}
