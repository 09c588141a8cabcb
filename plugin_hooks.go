package sio

// Hooks for handlers that are not plain Go funcs registered per event (the
// WebAssembly plugin host of package plugins uses them): interceptors that
// see every event and may decline it, raw access to arguments and their
// binary attachments, and deferred work on a socket's own goroutine.

// Event is an incoming event as an Interceptor sees it.
type Event struct {
	Name string
	Args Args
	// Ack answers the event; nil when the client did not ask for an
	// acknowledgement. It may be called once, by whichever handler takes
	// the event.
	Ack Ack
	// AckID is the packet's ack id (meaningful when Ack is not nil).
	AckID uint64
}

// Interceptor is a catch-all event handler. It returns true when it took the
// event, false to decline it: the next interceptor, then the handlers
// registered with On for that event, get it.
type Interceptor func(ev *Event) bool

// Intercept adds fn to the socket's interceptors. For each incoming event,
// after the OnAny observers, interceptors run in the order they were added
// until one takes the event; only when all decline do the event's On
// handlers run. Interceptors run on the socket's goroutine, like handlers.
func (s *Socket) Intercept(fn Interceptor) {
	s.mu.Lock()
	s.intercepts = append(s.intercepts, fn)
	s.mu.Unlock()
}

func runIntercepts(list []Interceptor, name string, args Args, ack Ack, id uint64) bool {
	ev := &Event{Name: name, Args: args, Ack: ack, AckID: id}
	for _, fn := range list {
		if fn(ev) {
			return true
		}
	}
	return false
}

// Defer runs fn on the socket's goroutine after the current task (the
// connect middleware and connection handlers, or the event handler being
// run) and before the socket's later events. Called from a middleware, fn
// runs once the socket was admitted or refused: check Connected.
func (s *Socket) Defer(fn func()) { s.enqueue(fn) }

// NewArgs returns arguments made of raw JSON values, one per argument, in
// which binary placeholders ({"_placeholder":true,"num":N}) refer to
// attachments[N]. Emitting args.Values() reproduces them. The slices are
// kept, not copied.
func NewArgs(raw [][]byte, attachments [][]byte) Args {
	return Args{raw: raw, attachments: attachments}
}

// Attachments returns the binary attachments that the arguments'
// placeholders refer to, in packet order.
func (a Args) Attachments() [][]byte { return a.attachments }

// RawList returns the raw JSON of every argument (placeholders for binary
// ones), as received. The slices must not be modified.
func (a Args) RawList() [][]byte { return a.raw }
