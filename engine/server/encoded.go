package server

import "github.com/sio-go/sio/engine/packet"

// Message is one Engine.IO message of an encoded packet.
type Message struct {
	Data   []byte
	Binary bool
}

// Encoded is a packet encoded once, to be queued on many connections: a
// broadcast costs one encoding whatever the number of recipients.
type Encoded struct {
	Messages []Message
	Size     int // bytes over all messages
}

// Encode encodes p: its header, then one binary message per attachment.
func Encode(p *packet.Packet) *Encoded {
	hdr := packet.AppendHeader(make([]byte, 0, packet.HeaderLen(p)), p)
	e := &Encoded{Messages: make([]Message, 0, 1+len(p.Attachments)), Size: len(hdr)}
	e.Messages = append(e.Messages, Message{Data: hdr})
	for _, a := range p.Attachments {
		e.Messages = append(e.Messages, Message{Data: a, Binary: true})
		e.Size += len(a)
	}
	return e
}
