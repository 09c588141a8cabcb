package client

import (
	"strconv"

	"github.com/sio-go/sio/engine/packet"
)

// Args builds the arguments of an emit or an ack: raw JSON values, and the
// binary attachments their placeholders refer to. Pass Values and
// Attachments to Socket.Emit or Socket.Ack.
type Args struct {
	// Values are the arguments, each raw JSON.
	Values [][]byte
	// Attachments are the binary attachments referred to by placeholders.
	Attachments [][]byte
}

// JSON appends an argument given as raw JSON.
func (a *Args) JSON(raw []byte) *Args {
	a.Values = append(a.Values, raw)
	return a
}

// String appends a string argument.
func (a *Args) String(s string) *Args {
	a.Values = append(a.Values, packet.AppendString(nil, s))
	return a
}

// Int appends an integer argument.
func (a *Args) Int(v int64) *Args {
	a.Values = append(a.Values, strconv.AppendInt(nil, v, 10))
	return a
}

// Binary appends a binary argument: a placeholder in Values for data, added
// to Attachments.
func (a *Args) Binary(data []byte) *Args {
	a.Values = append(a.Values, a.Placeholder(data))
	return a
}

// Placeholder adds data to Attachments and returns the JSON placeholder that
// refers to it, to embed in a larger JSON argument (such as an object with a
// binary field).
func (a *Args) Placeholder(data []byte) []byte {
	a.Attachments = append(a.Attachments, data)
	return packet.AppendPlaceholder(nil, len(a.Attachments)-1)
}

// Reset empties a for reuse.
func (a *Args) Reset() {
	clear(a.Values)
	clear(a.Attachments)
	a.Values, a.Attachments = a.Values[:0], a.Attachments[:0]
}

// Attachment returns the attachment that the raw JSON value arg stands for,
// when arg is a placeholder of one of attachments (as in the Args of an
// EventEmit or EventAck).
func Attachment(arg []byte, attachments [][]byte) ([]byte, bool) {
	n, ok := packet.Placeholder(arg)
	if !ok || n >= len(attachments) {
		return nil, false
	}
	return attachments[n], true
}
