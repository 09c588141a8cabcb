package packet

import "errors"

// Sentinel errors, matched with errors.Is against the *Error values of this package.
var (
	ErrEmpty           = errors.New("packet: empty packet")
	ErrUnknownType     = errors.New("packet: unknown packet type")
	ErrIllegalAttach   = errors.New("packet: illegal attachments")
	ErrTooManyAttach   = errors.New("packet: too many attachments")
	ErrBadNamespace    = errors.New("packet: invalid namespace")
	ErrBadID           = errors.New("packet: invalid ack id")
	ErrInvalidPayload  = errors.New("packet: invalid payload")
	ErrTooDeep         = errors.New("packet: JSON nested too deep")
	ErrReservedEvent   = errors.New("packet: reserved event name")
	ErrUnexpectedBin   = errors.New("packet: binary data when not reconstructing a packet")
	ErrUnexpectedText  = errors.New("packet: text packet while reconstructing a binary packet")
	ErrNotPlaceholder  = errors.New("packet: argument is not a binary placeholder")
	ErrArgsNotArray    = errors.New("packet: data is not a JSON array")
	ErrInvalidArgument = errors.New("packet: invalid argument")
)

// Error is a decoding or encoding error. Remote errors are violations by the
// peer (the reference closes the connection with "parse error"); local errors
// are misuse by the caller.
type Error struct {
	Kind   error
	Remote bool
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

// Unwrap returns the sentinel, so errors.Is works.
func (e *Error) Unwrap() error { return e.Kind }

func remoteErr(kind error, detail string) *Error {
	return &Error{Kind: kind, Remote: true, Detail: detail}
}

func localErr(kind error, detail string) *Error { return &Error{Kind: kind, Detail: detail} }
