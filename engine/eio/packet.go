package eio

import (
	"bytes"
	"encoding/base64"
	"strconv"
)

// PacketType is the Engine.IO packet type, sent as one ASCII digit.
// See https://github.com/socketio/engine.io-protocol#packet-encoding.
type PacketType byte

// The Engine.IO v4 packet types.
const (
	Open PacketType = iota
	Close
	Ping
	Pong
	Message
	Upgrade
	Noop
)

var packetTypeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns the name the reference implementation uses for t.
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the seven Engine.IO v4 packet types.
func (t PacketType) Valid() bool { return t <= Noop }

// Packet is one Engine.IO packet. Binary packets are always of type Message.
type Packet struct {
	Type   PacketType
	Data   []byte
	Binary bool
}

// Separator joins packets in an HTTP long-polling payload (the ASCII record separator).
const Separator byte = 0x1e

// AppendText appends the text encoding of p (type digit followed by the data), as
// sent in a WebSocket text frame. A binary packet is appended as "b" + base64, the
// form it takes inside a polling payload.
func AppendText(dst []byte, p Packet) []byte {
	if p.Binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// DecodeText decodes a text frame (a WebSocket text message, or one element of a
// polling payload). An element starting with 'b' is a base64 binary message.
// The returned Data aliases frame, except for binary packets.
func DecodeText(frame []byte) (Packet, error) {
	if len(frame) == 0 {
		return Packet{}, remoteErr(ErrEmptyPacket, "")
	}
	c := frame[0]
	if c == 'b' {
		data, err := base64.StdEncoding.AppendDecode(nil, frame[1:])
		if err != nil {
			return Packet{}, remoteErr(ErrBadBase64, err.Error())
		}
		return Packet{Type: Message, Data: data, Binary: true}, nil
	}
	if c < '0' || c > '0'+byte(Noop) {
		return Packet{}, remoteErr(ErrUnknownType, "type byte "+strconv.QuoteRune(rune(c)))
	}
	return Packet{Type: PacketType(c - '0'), Data: frame[1:]}, nil
}

// AppendPayload appends the HTTP long-polling encoding of packets: each packet's
// text form, joined by Separator.
func AppendPayload(dst []byte, packets []Packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, Separator)
		}
		dst = AppendText(dst, p)
	}
	return dst
}

// PayloadLen returns the number of bytes AppendPayload appends for packets.
func PayloadLen(packets []Packet) int {
	n := 0
	for i, p := range packets {
		if i > 0 {
			n++
		}
		n += TextLen(p)
	}
	return n
}

// TextLen returns the number of bytes AppendText appends for p.
func TextLen(p Packet) int {
	if p.Binary {
		return 1 + base64.StdEncoding.EncodedLen(len(p.Data))
	}
	return 1 + len(p.Data)
}

// DecodePayload decodes an HTTP long-polling payload, calling fn for each packet in
// order. It stops at the first malformed packet or at the first error fn returns.
// Packet data handed to fn aliases body except for binary packets.
func DecodePayload(body []byte, fn func(Packet) error) error {
	if len(body) == 0 {
		return remoteErr(ErrEmptyPacket, "empty payload")
	}
	for {
		end := bytes.IndexByte(body, Separator)
		elem := body
		if end >= 0 {
			elem = body[:end]
		}
		p, err := DecodeText(elem)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if end < 0 {
			return nil
		}
		body = body[end+1:]
	}
}
