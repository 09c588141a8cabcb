// Package client is the client side of the Socket.IO v5 protocol as a sans-IO
// state machine: the reference client's Manager (one Engine.IO connection,
// namespaces multiplexed on it, reconnection with exponential backoff) and its
// Sockets (one per namespace: CONNECT with auth, events, acknowledgements,
// offline buffer, ack timeouts and retries).
//
// The Manager does not know the Engine.IO client session it sits on. A driver
// glues the two: it performs the Actions the Manager asks for (open an engine,
// close it, send a message on it), feeds back what the engine reports
// (HandleEngineOpen, HandleEngineMessage, HandleEngineClose,
// HandleEngineError), hands the Events to the application, and arms one timer
// at Deadline, calling HandleTimeout when it fires:
//
//	m.HandleEngineMessage(now, data, binary) // or any other input
//	for a, ok := m.PollAction(); ok; a, ok = m.PollAction() { perform(a) }
//	for ev, ok := m.PollEvent(); ok; ev, ok = m.PollEvent() { deliver(ev) }
//	if d, ok := m.Deadline(); ok { timer.Reset(d.Sub(now)) }
//
// Event arguments stay raw JSON, as in package packet: the application decodes
// each argument into the type it wants.
//
// A Manager and its Sockets are not safe for concurrent use. Byte slices given
// to them (messages, arguments, attachments, auth) are kept, not copied: the
// caller must not modify them afterwards. Events alias the messages they were
// decoded from.
package client
