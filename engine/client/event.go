package client

import "errors"

// Disconnect and close reasons, named as the reference client names them.
const (
	// ReasonIOServerDisconnect: the server sent DISCONNECT on the namespace.
	// The socket does not reconnect on its own.
	ReasonIOServerDisconnect = "io server disconnect"
	// ReasonIOClientDisconnect: Socket.Disconnect (or Manager.Close) was called.
	ReasonIOClientDisconnect = "io client disconnect"
	// ReasonTransportClose: the engine closed (the server went away, or the
	// connection was lost). The driver passes it to HandleEngineClose.
	ReasonTransportClose = "transport close"
	// ReasonTransportError: the engine failed. The driver passes it to
	// HandleEngineClose.
	ReasonTransportError = "transport error"
	// ReasonPingTimeout: the server stopped pinging. The driver passes it to
	// HandleEngineClose.
	ReasonPingTimeout = "ping timeout"
	// ReasonParseError: the server sent a malformed Socket.IO packet; the
	// Manager closed the engine.
	ReasonParseError = "parse error"
	// ReasonForcedClose: the Manager closed the engine because no socket is
	// active any more (or Manager.Close was called).
	ReasonForcedClose = "forced close"
)

// Sentinel errors of this package.
var (
	// ErrInvalidNamespace: a namespace must start with "/" and hold no ",".
	ErrInvalidNamespace = errors.New("client: invalid namespace")
	// ErrInvalidAuth: auth must be a JSON object.
	ErrInvalidAuth = errors.New("client: auth is not a JSON object")
	// ErrInvalidArgument: an argument is not valid JSON.
	ErrInvalidArgument = errors.New("client: argument is not valid JSON")
	// ErrReservedEvent: the event name is reserved (connect, disconnect, ...).
	ErrReservedEvent = errors.New("client: reserved event name")
	// ErrNotConnected: an ack cannot be sent while the engine is not open.
	ErrNotConnected = errors.New("client: not connected")
	// ErrDropped: a volatile emit was dropped because the socket is not connected.
	ErrDropped = errors.New("client: volatile packet dropped")
	// ErrTimeout: the engine did not open within Config.Timeout (the Err of
	// EventError, EventConnectError and EventReconnectError).
	ErrTimeout = errors.New("timeout")
	// ErrEngine stands for a nil error given to HandleEngineError.
	ErrEngine = errors.New("client: engine error")
)

// ActionKind tells what an Action asks the driver to do.
type ActionKind uint8

const (
	// ActionOpenEngine: create and open a new Engine.IO client session, then
	// report HandleEngineOpen or HandleEngineError.
	ActionOpenEngine ActionKind = iota + 1
	// ActionCloseEngine: close the current Engine.IO session once the messages
	// sent before are flushed, and feed nothing more from it.
	ActionCloseEngine
	// ActionSend: send Data as one Engine.IO message (binary when Binary).
	ActionSend
)

// String returns the name of k.
func (k ActionKind) String() string {
	switch k {
	case ActionOpenEngine:
		return "open engine"
	case ActionCloseEngine:
		return "close engine"
	case ActionSend:
		return "send"
	}
	return "unknown action"
}

// Action is an output of the Manager for its driver. Actions are returned in
// the order they must be performed.
type Action struct {
	Kind   ActionKind
	Data   []byte // ActionSend: the message
	Binary bool   // ActionSend: a binary message (an attachment)
}

// EventKind tells what an Event reports.
type EventKind uint8

const (
	// EventConnect: the socket Nsp is connected (SID, PID, Recovered).
	EventConnect EventKind = iota + 1
	// EventConnectError: the server refused the socket (Message, Data: the
	// socket is no longer active and does not retry), or the engine failed to
	// open while the socket waited (Message, Err: the socket stays active).
	EventConnectError
	// EventDisconnect: the socket Nsp is disconnected (Reason). With
	// ReasonIOServerDisconnect or ReasonIOClientDisconnect it will not
	// reconnect on its own; with any other reason it reconnects with the
	// Manager.
	EventDisconnect
	// EventEmit: the server emitted an event (Name, Args, Attachments); when
	// HasAck, answer with Socket.Ack(ID).
	EventEmit
	// EventAck: the server acknowledged the emit ID (Args, Attachments).
	EventAck
	// EventAckTimeout: the emit ID was not acknowledged in time (after its
	// retries, with Config.Retries). Its acknowledgement will be ignored.
	EventAckTimeout
	// EventAckCanceled: the socket disconnected while the emit ID waited for
	// its acknowledgement, which will never come (the reference's "socket has
	// been disconnected"). Emits still in the offline buffer are not canceled.
	EventAckCanceled
	// EventOpen: the engine is open.
	EventOpen
	// EventClose: the engine closed (Reason, Err).
	EventClose
	// EventError: the engine failed to open (Err).
	EventError
	// EventReconnectAttempt: a reconnection attempt starts (Attempt, from 1).
	EventReconnectAttempt
	// EventReconnect: a reconnection attempt succeeded (Attempt).
	EventReconnect
	// EventReconnectError: a reconnection attempt failed (Err).
	EventReconnectError
	// EventReconnectFailed: ReconnectionAttempts attempts failed; the Manager
	// gives up until a Socket connects again.
	EventReconnectFailed
)

var eventNames = [...]string{"", "connect", "connect_error", "disconnect", "event", "ack", "ack timeout",
	"ack canceled", "open", "close", "error", "reconnect_attempt", "reconnect", "reconnect_error", "reconnect_failed"}

// String returns the reference's name of k (or a description).
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return "unknown event"
}

// Event is an output of the Manager for the application. Socket events carry
// their namespace in Nsp; manager events leave it empty.
type Event struct {
	Kind EventKind
	// Nsp is the namespace of a socket event.
	Nsp string
	// SID is the socket id given by the server (EventConnect).
	SID string
	// PID is the private session id of connection state recovery, when the
	// server enabled it (EventConnect).
	PID string
	// Recovered reports that the server recovered the session PID (EventConnect).
	Recovered bool
	// Name is the event name (EventEmit).
	Name string
	// Args are the raw JSON arguments (EventEmit, EventAck). In binary
	// packets they hold placeholders for Attachments (see Attachment).
	Args [][]byte
	// Attachments are the binary attachments (EventEmit, EventAck).
	Attachments [][]byte
	// ID is the ack id: the server's for EventEmit (when HasAck), the one
	// Emit returned for EventAck, EventAckTimeout and EventAckCanceled.
	ID uint64
	// HasAck reports that the server waits for an ack (EventEmit).
	HasAck bool
	// Message is the error message (EventConnectError).
	Message string
	// Data is the raw JSON data the server attached to its refusal, if any
	// (EventConnectError).
	Data []byte
	// Reason is why the socket disconnected or the engine closed
	// (EventDisconnect, EventClose).
	Reason string
	// Attempt is the reconnection attempt number (EventReconnectAttempt,
	// EventReconnect).
	Attempt int
	// Err is the error behind EventError, EventReconnectError, a transport
	// EventConnectError, or an EventClose for ReasonParseError.
	Err error
}
