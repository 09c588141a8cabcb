// Package packet encodes and decodes Socket.IO v5 packets, including binary
// attachments, as specified in https://github.com/socketio/socket.io-protocol.
//
// Event arguments stay raw JSON: a decoded Packet carries its Data as the JSON
// text it arrived as, and Args splits it into arguments without building any
// Go value, so that a handler decodes into the type it wants, once.
package packet

import (
	"strconv"
)

// Type is the Socket.IO packet type.
type Type byte

// The Socket.IO v5 packet types.
const (
	Connect Type = iota
	Disconnect
	Event
	Ack
	ConnectError
	BinaryEvent
	BinaryAck
)

var typeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String returns the spec's name for t.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Binary reports whether packets of type t carry attachments.
func (t Type) Binary() bool { return t == BinaryEvent || t == BinaryAck }

// Protocol is the Socket.IO protocol version this package speaks.
const Protocol = 5

// ReservedEvents are the event names a peer may not send: the reference
// refuses EVENT packets naming them.
var ReservedEvents = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// IsReserved reports whether name is a reserved event name.
func IsReserved(name string) bool {
	for _, r := range ReservedEvents {
		if r == name {
			return true
		}
	}
	return false
}

// Packet is one Socket.IO packet.
type Packet struct {
	Type Type
	// Namespace is the namespace name; "/" (the main namespace) when empty.
	Namespace string
	// ID is the ack id, meaningful when HasID is set.
	ID    uint64
	HasID bool
	// Data is the JSON payload, empty when there is none. In binary packets it
	// holds {"_placeholder":true,"num":N} objects where attachments go.
	Data []byte
	// Attachments are the binary attachments of a BinaryEvent or BinaryAck.
	Attachments [][]byte
}

// Nsp returns the packet's namespace, "/" when Namespace is empty.
func (p *Packet) Nsp() string {
	if p.Namespace == "" {
		return "/"
	}
	return p.Namespace
}

// AppendHeader appends the text encoding of p (everything but the
// attachments, which travel as separate binary Engine.IO messages). A packet
// with attachments is written as BinaryEvent/BinaryAck whatever its Type says
// between Event/Ack and the binary variant.
func AppendHeader(dst []byte, p *Packet) []byte {
	t := p.Type
	n := len(p.Attachments)
	switch {
	case n > 0 && t == Event:
		t = BinaryEvent
	case n > 0 && t == Ack:
		t = BinaryAck
	}
	dst = append(dst, '0'+byte(t))
	if t.Binary() {
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// HeaderLen returns the number of bytes AppendHeader appends for p.
func HeaderLen(p *Packet) int {
	n := 1 + len(p.Data)
	a := len(p.Attachments)
	if p.Type.Binary() || (a > 0 && (p.Type == Event || p.Type == Ack)) {
		n += decimalLen(uint64(a)) + 1
	}
	if p.Namespace != "" && p.Namespace != "/" {
		n += len(p.Namespace) + 1
	}
	if p.HasID {
		n += decimalLen(p.ID)
	}
	return n
}

func decimalLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}
