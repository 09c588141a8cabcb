package eio

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPollAbortIsNotAViolation: a pending GET that goes away (the network
// failed, the client closed the request) closes the session with
// "transport error", but the peer broke no rule: the error is not Remote,
// which drivers log as a protocol violation.
func TestPollAbortIsNotAViolation(t *testing.T) {
	h := newPolling(t, ServerConfig{})
	require.NoError(t, h.s.HandlePollGet(h.now))
	h.s.HandlePollAbort(h.now)
	var closed *Event
	for ev, ok := h.s.PollEvent(); ok; ev, ok = h.s.PollEvent() {
		if ev.Kind == EventClose {
			closed = &ev
		}
	}
	require.NotNil(t, closed, "the session closed")
	assert.Equal(t, ReasonTransportError, closed.Reason)
	var e *Error
	require.True(t, errors.As(closed.Err, &e), "%v", closed.Err)
	assert.False(t, e.Remote, "an aborted poll is not a protocol violation")
}
