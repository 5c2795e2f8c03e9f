package alert

import (
	"context"
	"testing"
	"time"
)

// TestReviewCommandBoundedWithGrandchild: an alert command whose child
// keeps its output open (a pipeline, a backgrounded helper) outlives
// the kill at Timeout; waiting for its output then, the delivery would
// outlast the outbox's lease (Timeout + 30 s) and another courier would
// send the alert again. The send ends shortly after Timeout.
func TestReviewCommandBoundedWithGrandchild(t *testing.T) {
	s := Sender{Command: []string{"sh", "-c", "sleep 20 | cat"}, Timeout: 300 * time.Millisecond}
	start := time.Now()
	err := s.Send(context.Background(), []byte("{}"))
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the send took %v with a Timeout of %v", took, s.Timeout)
	}
	if err == nil {
		t.Fatal("a command killed at its timeout counted as delivered")
	}
}
