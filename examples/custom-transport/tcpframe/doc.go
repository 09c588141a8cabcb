// Package tcpframe runs Socket.IO over plain TCP by driving the sans-IO engine
// (github.com/sio-go/sio/engine): a small, complete example of a custom
// transport.
//
// A TCP connection carries one Engine.IO session and is treated as a
// WebSocket: each Engine.IO packet travels in one frame,
//
//	+----------------+-------+-------------------+
//	| length: uint32 | flags | payload (length)  |
//	| big-endian     | 1 B   |                   |
//	+----------------+-------+-------------------+
//
// where flags is 0 for a text frame (the packet's text form, eio.AppendText)
// and 1 for a binary frame (the raw data of a binary message). Frames over a
// maximum size are refused and the connection is dropped.
//
// The package has three parts: the framing, with Conn running the reader and
// writer goroutines of one connection (frame.go); Timer, the one timer of a
// state machine (timer.go); and the two drivers, Server and Client, each a
// run loop owning its state machines (server.go, client.go).
package tcpframe
