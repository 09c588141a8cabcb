// Package engine is the sans-IO core of sio: state machines for the Engine.IO
// v4 and Socket.IO v5 protocols, server side and client side.
//
// Nothing under engine/ performs I/O, reads the clock, arms timers or starts
// goroutines. Bytes and the current time go in; frames to send, events and the
// next deadline come out. A driver (transport/nethttp, transport/wasm, or your
// own) owns sockets, goroutines, locks and the one timer per state machine.
//
// Subpackages:
//   - eio: Engine.IO packets and payloads, the server Session and the client ClientSession.
//   - packet: Socket.IO packets, binary attachments and raw JSON arguments.
//   - server: the Socket.IO server layer (namespaces, sockets, rooms, acks).
//   - client: the Socket.IO client layer (manager, sockets, reconnection).
//
// The run loop of a driver is the same for every state machine:
//
//	sm.HandleXxx(now, input)          // feed what arrived
//	for ev, ok := sm.PollEvent(); ok; ev, ok = sm.PollEvent() { ... }
//	for tr, ok := sm.PollTransmit(t); ok; tr, ok = sm.PollTransmit(t) { write(tr) }
//	if d, ok := sm.Deadline(); ok { timer.Reset(d.Sub(now)) } // then sm.HandleTimeout(now)
package engine
