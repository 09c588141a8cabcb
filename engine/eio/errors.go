package eio

import "errors"

// Sentinel errors, matched with errors.Is against the *Error values this package returns.
var (
	ErrEmptyPacket     = errors.New("eio: empty packet")
	ErrUnknownType     = errors.New("eio: unknown packet type")
	ErrBadBase64       = errors.New("eio: malformed base64 in binary packet")
	ErrPayloadTooLarge = errors.New("eio: payload too large")
	ErrUnexpected      = errors.New("eio: unexpected packet")
	ErrPollOverlap     = errors.New("eio: overlapping polling request")
	ErrWrongTransport  = errors.New("eio: request on the wrong transport")
	ErrClosed          = errors.New("eio: session closed")
)

// Error is a protocol error. Remote errors are violations by the peer (they close
// the session with reason "parse error" or "transport error"); local errors are
// misuse of this package by its caller.
type Error struct {
	Kind   error  // one of the Err* sentinels
	Remote bool   // the peer sent something invalid
	Detail string // human-readable detail, may be empty
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

// Unwrap returns the sentinel, so errors.Is(err, ErrUnknownType) works.
func (e *Error) Unwrap() error { return e.Kind }

func remoteErr(kind error, detail string) *Error {
	return &Error{Kind: kind, Remote: true, Detail: detail}
}

func localErr(kind error, detail string) *Error {
	return &Error{Kind: kind, Detail: detail}
}
