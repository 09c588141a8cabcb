//go:build js && wasm

package wasm

import (
	"errors"
	"runtime"
	"strconv"
	"sync"
	"syscall/js"
	"time"
)

var (
	global      = js.Global()
	jsObject    = global.Get("Object")
	jsPromise   = global.Get("Promise")
	uint8Array  = global.Get("Uint8Array")
	arrayBuffer = global.Get("ArrayBuffer")
	jsNull      = js.Null()
)

// BytesToJS returns a new Uint8Array holding a copy of b.
func BytesToJS(b []byte) js.Value {
	a := uint8Array.New(len(b))
	if len(b) > 0 {
		js.CopyBytesToJS(a, b)
	}
	return a
}

// BytesFromJS returns a copy of the bytes of an ArrayBuffer, a typed array
// or a DataView; ok is false for any other value.
func BytesFromJS(v js.Value) (b []byte, ok bool) {
	if v.Type() != js.TypeObject {
		return nil, false
	}
	var u js.Value
	switch {
	case v.InstanceOf(uint8Array):
		u = v
	case v.InstanceOf(arrayBuffer):
		u = uint8Array.New(v)
	case arrayBuffer.Call("isView", v).Bool():
		u = uint8Array.New(v.Get("buffer"), v.Get("byteOffset"), v.Get("byteLength"))
	default:
		return nil, false
	}
	b = make([]byte, u.Get("length").Int())
	if len(b) > 0 {
		js.CopyBytesToGo(b, u)
	}
	return b, true
}

// Catch runs fn and returns the JavaScript exception it raised, if any.
// Other panics go on.
func Catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(js.Error); ok {
				err = e
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// Recover, deferred at the entry of a callback from JavaScript, stops a
// panic there and reports it on the console: a panic that escaped would
// end the whole Go program, and with it every connection.
func Recover(where string) {
	if r := recover(); r != nil {
		ReportPanic(where, r)
	}
}

// ReportPanic writes a recovered panic and the stack on the console.
func ReportPanic(where string, r any) {
	msg := "panic"
	switch v := r.(type) {
	case error:
		msg = v.Error()
	case string:
		msg = v
	}
	stack := make([]byte, 8<<10)
	stack = stack[:runtime.Stack(stack, false)]
	global.Get("console").Call("error", "sio: internal error in "+where+": "+msg+"\n"+string(stack))
}

// callbacks registers the Go side of asynchronous JavaScript callbacks: one
// js.Func per kind, bound to an id with Function.prototype.bind, so that no
// js.Func is created or released per request.
// The lock matters only for callers on goroutines of their own
// (transport/wasm/sioclient); the event-loop driver never contends.
type callbacks[T any] struct {
	mu   sync.Mutex
	next int
	live map[int]T
}

func (c *callbacks[T]) add(v T) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == nil {
		c.live = map[int]T{}
	}
	c.next++
	c.live[c.next] = v
	return c.next
}

func (c *callbacks[T]) take(id int) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.live[id]
	delete(c.live, id)
	return v, ok
}

func (c *callbacks[T]) get(id int) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.live[id]
	return v, ok
}

// funcOf returns a js.Func, never released, whose first argument is an id
// given by bind; fn runs guarded.
func funcOf(where string, fn func(id int, args []js.Value)) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		defer Recover(where)
		if len(args) == 0 {
			return nil
		}
		fn(args[0].Int(), args[1:])
		return nil
	})
}

func bind(f js.Func, args ...any) js.Value {
	return f.Call("bind", append([]any{jsNull}, args...)...)
}

// later calls f(args...) from a microtask: callbacks never run inside the
// call that started the operation.
func later(f js.Func, args ...any) {
	jsPromise.Call("resolve").Call("then", bind(f, args...))
}

// ---- timers ----

var (
	timers  callbacks[*Timer]
	timerFn = funcOf("timer", func(id int, _ []js.Value) {
		if t, ok := timers.take(id); ok {
			t.id = 0
			t.fn()
		}
	})
)

// Timer calls a function once after a delay, with the browser's setTimeout.
type Timer struct {
	fn     func()
	id     int // registration while armed, 0 otherwise
	handle js.Value
}

// NewTimer returns a stopped timer that calls fn when it fires.
func NewTimer(fn func()) *Timer { return &Timer{fn: fn} }

// maxDelay is the longest setTimeout delay browsers honour (2^31-1 ms);
// longer ones fire at once.
const maxDelay = 1<<31 - 1

// Reset (re)arms the timer to fire after d, rounded up to a millisecond.
func (t *Timer) Reset(d time.Duration) {
	t.Stop()
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 0 {
		ms = 0
	}
	if ms > maxDelay {
		ms = maxDelay // the driver re-arms for what is left when it fires
	}
	t.id = timers.add(t)
	t.handle = global.Call("setTimeout", bind(timerFn, t.id), int(ms))
}

// Stop disarms the timer.
func (t *Timer) Stop() {
	if t.id != 0 {
		timers.take(t.id)
		t.id = 0
		global.Call("clearTimeout", t.handle)
	}
}

// ---- fetch ----

// FetchRequest describes an HTTP request made with fetch.
type FetchRequest struct {
	Method string
	URL    string
	// Header holds request headers (name, value), in order. Browsers refuse
	// some names (Cookie, Host, ...) and make others trigger a CORS preflight.
	Header [][2]string
	// ContentType, when set, is sent as Content-Type.
	ContentType string
	// Body is the request body (nil for none).
	Body []byte
	// Credentials sends cookies and HTTP authentication cross-origin too
	// (credentials "include", the reference's withCredentials); otherwise
	// only to the same origin ("same-origin").
	Credentials bool
}

// StatusError is a response whose status is not 200.
type StatusError struct {
	Code int
	Body string // the start of the response body
}

func (e *StatusError) Error() string {
	return "HTTP status " + strconv.Itoa(e.Code) + ": " + e.Body
}

// Request is a fetch in flight.
type Request struct {
	id     int
	ctrl   js.Value
	done   func(status int, body []byte, err error)
	status int
}

var (
	fetches   callbacks[*Request]
	fetchFail = funcOf("fetch", func(id int, args []js.Value) {
		r, ok := fetches.take(id)
		if !ok {
			return
		}
		msg := "fetch failed"
		if len(args) > 0 {
			if args[0].Type() == js.TypeString {
				msg = args[0].String()
			} else if args[0].Type() == js.TypeObject {
				if m := args[0].Get("message"); m.Type() == js.TypeString {
					msg = m.String()
				}
			}
		}
		r.done(0, nil, errors.New(msg))
	})
	fetchResponse = funcOf("fetch", func(id int, args []js.Value) {
		r, ok := fetches.get(id)
		if !ok || len(args) == 0 {
			return
		}
		resp := args[0]
		r.status = resp.Get("status").Int()
		resp.Call("arrayBuffer").Call("then", bind(fetchBody, id), bind(fetchFail, id))
	})
	fetchBody = funcOf("fetch", func(id int, args []js.Value) {
		r, ok := fetches.take(id)
		if !ok {
			return
		}
		var body []byte
		if len(args) > 0 {
			body, _ = BytesFromJS(args[0])
		}
		if r.status != 200 {
			if len(body) > 256 {
				body = body[:256]
			}
			r.done(r.status, nil, &StatusError{Code: r.status, Body: string(body)})
			return
		}
		r.done(r.status, body, nil)
	})
)

// Fetch starts an HTTP request and calls done with the status and body of
// the response, or an error: a network failure, or a *StatusError for a
// status other than 200. done is called once, from a later callback of the
// event loop, never from within Fetch, and not after Abort.
func Fetch(fr FetchRequest, done func(status int, body []byte, err error)) *Request {
	r := &Request{done: done}
	r.id = fetches.add(r)
	err := Catch(func() {
		init := jsObject.New()
		init.Set("method", fr.Method)
		if len(fr.Header) > 0 || fr.ContentType != "" {
			h := jsObject.New()
			for _, kv := range fr.Header {
				h.Set(kv[0], kv[1])
			}
			if fr.ContentType != "" {
				h.Set("Content-Type", fr.ContentType)
			}
			init.Set("headers", h)
		}
		if fr.Body != nil {
			init.Set("body", BytesToJS(fr.Body))
		}
		if fr.Credentials {
			init.Set("credentials", "include")
		} else {
			init.Set("credentials", "same-origin")
		}
		init.Set("cache", "no-store")
		if ac := global.Get("AbortController"); ac.Type() == js.TypeFunction {
			r.ctrl = ac.New()
			init.Set("signal", r.ctrl.Get("signal"))
		}
		global.Call("fetch", fr.URL, init).Call("then", bind(fetchResponse, r.id), bind(fetchFail, r.id))
	})
	if err != nil {
		later(fetchFail, r.id, err.Error())
	}
	return r
}

// Abort cancels the request: done will not be called.
func (r *Request) Abort() {
	if _, ok := fetches.take(r.id); !ok {
		return
	}
	if r.ctrl.Type() == js.TypeObject {
		_ = Catch(func() { r.ctrl.Call("abort") })
	}
}

// ---- WebSocket ----

// WebSocketHandler receives the events of a WebSocket, each from its own
// callback of the event loop.
type WebSocketHandler struct {
	// Open: the connection is open.
	Open func()
	// Message: a message arrived (binary for an ArrayBuffer, else text).
	Message func(data []byte, binary bool)
	// Close: the connection is closed, or could not open; err is nil for a
	// clean close of an open connection. It is the last call.
	Close func(err error)
}

// WebSocket is a browser WebSocket with binaryType "arraybuffer".
type WebSocket struct {
	id     int
	ws     js.Value
	h      WebSocketHandler
	opened bool
	failed bool // an error event came
}

// ErrWebSocket is the error of a WebSocket that failed (the browser tells no more).
var ErrWebSocket = errors.New("websocket error")

// CloseError is the error of a WebSocket closed without a clean close
// handshake, or closed by an error.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	s := "websocket error (code " + strconv.Itoa(e.Code)
	if e.Reason != "" {
		s += ", " + e.Reason
	}
	return s + ")"
}

func (e *CloseError) Unwrap() error { return ErrWebSocket }

var (
	sockets callbacks[*WebSocket]
	wsOpen  = funcOf("websocket open", func(id int, _ []js.Value) {
		if w, ok := sockets.get(id); ok {
			w.opened = true
			w.h.Open()
		}
	})
	wsError = funcOf("websocket error", func(id int, _ []js.Value) {
		w, ok := sockets.get(id)
		if !ok {
			return
		}
		w.failed = true
		if !w.opened {
			// Browsers follow with a close event; some runtimes (Node 20's
			// undici) do not when the connection could not be made.
			sockets.take(id)
			w.detach()
			_ = Catch(func() { w.ws.Call("close") })
			w.h.Close(ErrWebSocket)
		}
	})
	wsMessage = funcOf("websocket message", func(id int, args []js.Value) {
		w, ok := sockets.get(id)
		if !ok || len(args) == 0 {
			return
		}
		data := args[0].Get("data")
		if data.Type() == js.TypeString {
			w.h.Message([]byte(data.String()), false)
			return
		}
		if b, ok := BytesFromJS(data); ok {
			w.h.Message(b, true)
		}
	})
	wsClose = funcOf("websocket close", func(id int, args []js.Value) {
		w, ok := sockets.take(id)
		if !ok {
			return
		}
		w.detach()
		var err error
		if len(args) > 0 && args[0].Type() == js.TypeObject {
			ev := args[0]
			if !w.opened || w.failed { // as the reference: a close without an error event is "transport close"
				err = &CloseError{Code: ev.Get("code").Int(), Reason: ev.Get("reason").String()}
			}
		} else if len(args) > 0 && args[0].Type() == js.TypeString {
			err = errors.New(args[0].String())
		} else if !w.opened || w.failed {
			err = ErrWebSocket
		}
		w.h.Close(err)
	})
)

// DialWebSocket opens a WebSocket to url (ws: or wss:). Failures, including
// a missing WebSocket constructor or an invalid URL, come through h.Close,
// from a later callback, never from within DialWebSocket.
func DialWebSocket(url string, h WebSocketHandler) *WebSocket {
	w := &WebSocket{h: h}
	w.id = sockets.add(w)
	ctor := global.Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		later(wsClose, w.id, "WebSocket is not available")
		return w
	}
	err := Catch(func() {
		w.ws = ctor.New(url)
		w.ws.Set("binaryType", "arraybuffer")
		w.ws.Set("onopen", bind(wsOpen, w.id))
		w.ws.Set("onmessage", bind(wsMessage, w.id))
		w.ws.Set("onerror", bind(wsError, w.id))
		w.ws.Set("onclose", bind(wsClose, w.id))
	})
	if err != nil {
		later(wsClose, w.id, err.Error())
	}
	return w
}

func (w *WebSocket) detach() {
	if w.ws.Type() != js.TypeObject {
		return
	}
	for _, ev := range [...]string{"onopen", "onmessage", "onerror", "onclose"} {
		w.ws.Set(ev, jsNull)
	}
}

// Send writes one message.
func (w *WebSocket) Send(data []byte, binary bool) error {
	if w.ws.Type() != js.TypeObject {
		return ErrWebSocket
	}
	return Catch(func() {
		if binary {
			w.ws.Call("send", BytesToJS(data))
		} else {
			w.ws.Call("send", string(data))
		}
	})
}

// Close closes the connection (after the messages already sent); the
// handler gets no more calls.
func (w *WebSocket) Close() {
	if _, ok := sockets.take(w.id); !ok {
		return
	}
	w.detach()
	if w.ws.Type() == js.TypeObject {
		_ = Catch(func() { w.ws.Call("close") })
	}
}
