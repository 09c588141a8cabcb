//go:build js && wasm

package main

import (
	"errors"
	"strings"
	"syscall/js"
	"time"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/transport/wasm"
)

// socket is the Go side of a Socket object.
type socket struct {
	obj    js.Value
	handle int
	m      *manager
	ws     *wasm.Socket
	nsp    string
	opt    sockOptions

	em        emitter
	anyIn     []js.Value
	anyOut    []js.Value
	flags     flags
	recovered bool
	acks      map[uint64]ackEntry
	authSeq   int
	// pendingAuth continues a connection once an auth function answered.
	pendingAuth func()

	// out holds emits and acks waiting for Blob arguments to be read,
	// sent in order.
	out    []*outgoing
	outSeq int
}

// flags are the modifiers of the next emit (timeout(ms), volatile).
type flags struct {
	timeout    time.Duration
	hasTimeout bool
	volatile   bool
}

// ackEntry is what waits for the acknowledgement of an emit: a callback
// (called with an error first when withError, as with a timeout), or the
// functions of emitWithAck's promise.
type ackEntry struct {
	fn        js.Value
	withError bool
	resolve   js.Value
	reject    js.Value
}

// outgoing is an emit, or an ack to the server, whose arguments are being
// encoded (a Blob is being read).
type outgoing struct {
	seq     int
	done    bool
	enc     js.Value // [text, attachments] once done
	err     js.Value // the read failure, if any
	isAck   bool
	ackID   uint64
	name    string
	payload js.Value // the arguments as given, for the outgoing listeners
	flags   flags
	entry   *ackEntry
}

func (s *socket) emitterOf() *emitter { return &s.em }

func newSocket(m *manager, ws *wasm.Socket, nsp string, so sockOptions) *socket {
	s := &socket{m: m, ws: ws, nsp: nsp, opt: so, acks: map[uint64]ackEntry{}}
	s.obj, s.handle = newObject(socketProto, s)
	if !isNullish(so.auth) {
		s.obj.Set("auth", so.auth)
	}
	return s
}

// reserved are the event names emit refuses, as the reference client.
var reserved = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

func isReserved(name string) bool {
	for _, r := range reserved {
		if r == name {
			return true
		}
	}
	return false
}

// connect connects the socket, with fresh credentials when the engine is
// already open (otherwise they are read when it opens).
func (s *socket) connect() {
	if s.ws.Connected() {
		return
	}
	if s.m.wm.State() == client.StateOpen {
		s.refreshAuth(s.ws.Connect)
		return
	}
	s.ws.Connect()
}

// refreshAuth sets the socket's auth from its auth property (an object, or
// a function given a callback), then calls then.
func (s *socket) refreshAuth(then func()) {
	a := s.obj.Get("auth")
	s.authSeq++
	switch {
	case kind(a) == js.TypeFunction:
		s.pendingAuth = then // before the call: the function may answer at once
		h.Call("call", array([]js.Value{a}), s.obj, array([]js.Value{h.Call("once", authCallback, s.handle, s.authSeq)}))
		return
	case isPlainObject(a):
		s.setAuth(a)
	default:
		_ = s.ws.SetAuth(nil)
	}
	then()
}

func (s *socket) setAuth(a js.Value) {
	if !isPlainObject(a) {
		_ = s.ws.SetAuth(nil)
		return
	}
	var text js.Value
	if err := wasm.Catch(func() { text = h.Call("stringify", a) }); err != nil || kind(text) != js.TypeString {
		_ = s.ws.SetAuth(nil)
		return
	}
	if s.ws.SetAuth([]byte(text.String())) != nil {
		_ = s.ws.SetAuth(nil)
	}
}

var (
	authCallback, ackCallback, encodedOK, encodedFail js.Func
)

func initCallbacks() {
	// the callback given to an auth function: cb(data)
	authCallback = callback("auth callback", func(handle, seq int, args js.Value) any {
		s, ok := handles[handle].(*socket)
		if !ok || seq != s.authSeq || s.pendingAuth == nil {
			return nil
		}
		s.setAuth(args.Index(0))
		then := s.pendingAuth
		s.pendingAuth = nil
		then()
		return nil
	})
	// the ack function given to listeners of an event that asks for one
	ackCallback = callback("ack", func(handle, id int, args js.Value) any {
		s, ok := handles[handle].(*socket)
		if !ok {
			return nil
		}
		var enc js.Value
		if err := wasm.Catch(func() { enc = h.Call("encode", args) }); err != nil {
			return h.Call("failWith", err.(js.Error).Value) // thrown by ack(...), as the reference
		}
		s.queue(&outgoing{isAck: true, ackID: uint64(id)}, enc)
		return nil
	})
	encodedOK = callback("emit", func(handle, seq int, args js.Value) any {
		if s, ok := handles[handle].(*socket); ok {
			s.encoded(seq, args.Index(0), jsUndef)
		}
		return nil
	})
	encodedFail = callback("emit", func(handle, seq int, args js.Value) any {
		if s, ok := handles[handle].(*socket); ok {
			s.encoded(seq, jsUndef, args.Index(0))
		}
		return nil
	})
}

// queue sends o with its encoded arguments enc ([text, attachments], or a
// Promise of it), after the emits still waiting for theirs.
func (s *socket) queue(o *outgoing, enc js.Value) {
	if len(s.out) == 0 && !enc.InstanceOf(global.Get("Promise")) {
		s.send(o, enc)
		return
	}
	s.outSeq++
	o.seq = s.outSeq
	s.out = append(s.out, o)
	if enc.InstanceOf(global.Get("Promise")) {
		enc.Call("then", h.Call("callback", encodedOK, s.handle, o.seq), h.Call("callback", encodedFail, s.handle, o.seq))
	} else {
		o.done, o.enc = true, enc
	}
}

// encoded records that the arguments of the queued emit seq are ready (or
// failed), and sends what can go.
func (s *socket) encoded(seq int, enc, fail js.Value) {
	for _, o := range s.out {
		if o.seq == seq {
			o.done, o.enc, o.err = true, enc, fail
		}
	}
	for len(s.out) > 0 && s.out[0].done {
		o := s.out[0]
		s.out[0] = nil
		s.out = s.out[1:]
		if kind(o.err) != js.TypeUndefined {
			if o.entry != nil {
				s.settle(*o.entry, o.err, jsUndef)
			} else {
				global.Get("console").Call("error", "sio: emit dropped: reading a Blob failed:", o.err)
			}
			continue
		}
		s.send(o, o.enc)
	}
}

// split turns the encoder's output into the arguments and attachments.
func split(enc js.Value) ([][]byte, [][]byte) {
	text := enc.Index(0).String()
	var args [][]byte
	if text != "" {
		for _, t := range strings.Split(text, "\n") {
			args = append(args, []byte(t))
		}
	}
	attJS := enc.Index(1)
	atts := make([][]byte, attJS.Length())
	for i := range atts {
		atts[i], _ = wasm.BytesFromJS(attJS.Index(i))
	}
	return args, atts
}

func (s *socket) send(o *outgoing, enc js.Value) {
	args, atts := split(enc)
	if o.isAck {
		_ = s.ws.Ack(o.ackID, args, atts) // not connected: the reference drops it too
		return
	}
	timeout := time.Duration(-1)
	switch {
	case o.flags.hasTimeout:
		timeout = o.flags.timeout
	case s.opt.hasAckTimeout:
		timeout = s.opt.ackTimeout
	}
	wantAck := o.entry != nil
	connected := s.ws.Connected()
	id, err := s.ws.Emit(o.name, args, atts, wantAck, timeout, o.flags.volatile)
	if errors.Is(err, client.ErrDropped) {
		return
	}
	if err != nil {
		if o.entry != nil {
			s.settle(*o.entry, h.Call("error", "sio: "+err.Error(), jsUndef), jsUndef)
		}
		return
	}
	if wantAck {
		s.acks[id] = *o.entry
	}
	if connected && len(s.anyOut) > 0 {
		// the reference notifies outgoing listeners when a packet leaves
		h.Call("event", array(s.anyOut), jsNull, s.obj, o.name, o.payload)
	}
}

// settle completes an ack entry with an error (err not undefined) or the
// arguments args (a JavaScript array).
func (s *socket) settle(e ackEntry, err, args js.Value) {
	if kind(e.resolve) == js.TypeFunction {
		if kind(err) != js.TypeUndefined {
			h.Call("call", array([]js.Value{e.reject}), jsUndef, array([]js.Value{err}))
		} else {
			first := jsUndef
			if args.Length() > 0 {
				first = args.Index(0)
			}
			h.Call("call", array([]js.Value{e.resolve}), jsUndef, array([]js.Value{first}))
		}
		return
	}
	if kind(err) != js.TypeUndefined {
		if e.withError {
			h.Call("call", array([]js.Value{e.fn}), s.obj, array([]js.Value{err}))
		}
		return
	}
	if e.withError {
		args.Call("unshift", jsNull)
	}
	h.Call("call", array([]js.Value{e.fn}), s.obj, args)
}

// decode turns received arguments into a JavaScript array.
func (s *socket) decode(text string, atts [][]byte) (js.Value, bool) {
	bufs := make([]js.Value, len(atts))
	for i, a := range atts {
		bufs[i] = wasm.BytesToJS(a).Get("buffer")
	}
	var v js.Value
	if err := wasm.Catch(func() { v = h.Call("decode", text, array(bufs)) }); err != nil {
		global.Get("console").Call("error", "sio: dropped a packet whose arguments do not parse:", err.(js.Error).Value)
		return jsUndef, false
	}
	return v, true
}

func argsText(args [][]byte) string {
	n := 2
	for _, a := range args {
		n += len(a) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	return string(append(b, ']'))
}

// event delivers a client event of this socket's namespace.
func (s *socket) event(ev client.Event) {
	switch ev.Kind {
	case client.EventConnect:
		s.recovered = ev.Recovered
		s.em.emit(s.obj, "connect")
	case client.EventConnectError:
		var e js.Value
		if ev.Err != nil {
			e = errorValue(ev.Err)
		} else {
			e = h.Call("error", ev.Message, jsUndef)
			if len(ev.Data) > 0 {
				if d, ok := s.decode("["+string(ev.Data)+"]", nil); ok {
					e.Set("data", d.Index(0))
				}
			}
		}
		s.em.emit(s.obj, "connect_error", e)
	case client.EventDisconnect:
		s.em.emit(s.obj, "disconnect", js.ValueOf(ev.Reason))
	case client.EventEmit:
		args, ok := s.decode(argsText(ev.Args), ev.Attachments)
		if !ok {
			return
		}
		if ev.HasAck {
			args.Call("push", h.Call("once", ackCallback, s.handle, float64(ev.ID)))
		}
		anyFns := jsNull
		if len(s.anyIn) > 0 {
			anyFns = array(s.anyIn)
		}
		fns, _ := s.em.take(ev.Name)
		if !anyFns.IsNull() || !fns.IsNull() {
			h.Call("event", anyFns, fns, s.obj, ev.Name, args)
		}
	case client.EventAck:
		e, ok := s.acks[ev.ID]
		if !ok {
			return
		}
		delete(s.acks, ev.ID)
		if args, ok := s.decode(argsText(ev.Args), ev.Attachments); ok {
			s.settle(e, jsUndef, args)
		}
	case client.EventAckTimeout, client.EventAckCanceled:
		e, ok := s.acks[ev.ID]
		if !ok {
			return
		}
		delete(s.acks, ev.ID)
		msg := "operation has timed out"
		if ev.Kind == client.EventAckCanceled {
			msg = "socket has been disconnected"
		}
		s.settle(e, h.Call("error", msg, jsUndef), jsUndef)
	}
}

// emit is socket.emit (promise false) and socket.emitWithAck (promise true).
func (s *socket) emit(this js.Value, args []js.Value, promise bool) any {
	fl := s.flags
	s.flags = flags{}
	fname := "Socket.emit"
	if promise {
		fname = "Socket.emitWithAck"
	}
	ev := arg(args, 0)
	if kind(ev) != js.TypeString {
		panic(typeError("sio: " + fname + "(event, ...args): event must be a string, got " + describe(ev)))
	}
	name := ev.String()
	if isReserved(name) {
		panic(plainError("\"" + name + "\" is a reserved event name"))
	}
	payload := args[1:]
	o := &outgoing{name: name, flags: fl}
	var result js.Value = this
	switch {
	case promise:
		d := h.Call("deferred")
		o.entry = &ackEntry{resolve: d.Get("resolve"), reject: d.Get("reject")}
		result = d.Get("promise")
	case len(payload) > 0 && kind(payload[len(payload)-1]) == js.TypeFunction:
		o.entry = &ackEntry{fn: payload[len(payload)-1], withError: fl.hasTimeout || s.opt.hasAckTimeout || s.opt.retries > 0}
		payload = payload[:len(payload)-1]
	}
	o.payload = array(payload)
	s.queue(o, h.Call("encode", o.payload))
	return result
}

var socketProto js.Value

func initSocketProto() {
	p := newProto()
	socketProto = p.obj
	addEmitterMethods[*socket](p, "Socket")
	get := func(this js.Value, name string) *socket { return self[*socket](this, "Socket", "Socket."+name) }

	p.method("emit", func(this js.Value, args []js.Value) any {
		return get(this, "emit").emit(this, args, false)
	})
	p.method("emitWithAck", func(this js.Value, args []js.Value) (ret any) {
		s := get(this, "emitWithAck")
		defer func() { // a promise-returning function rejects instead of throwing
			if r := recover(); r != nil {
				d := h.Call("deferred")
				d.Call("reject", failValue("Socket.emitWithAck", r).Get("e"))
				ret = d.Get("promise")
			}
		}()
		return s.emit(this, args, true)
	})
	p.method("send", func(this js.Value, args []js.Value) any {
		return get(this, "send").emit(this, append([]js.Value{js.ValueOf("message")}, args...), false)
	})
	p.method("timeout", func(this js.Value, args []js.Value) any {
		s := get(this, "timeout")
		v := arg(args, 0)
		if kind(v) != js.TypeNumber || v.Float() != v.Float() || v.Float() < 0 {
			panic(typeError("sio: Socket.timeout(ms): ms must be a non-negative number, got " + describe(v)))
		}
		s.flags.timeout, s.flags.hasTimeout = ms(v.Float()), true
		return this
	})
	p.getter("volatile", func(this js.Value) any {
		get(this, "volatile").flags.volatile = true
		return this
	})
	p.method("compress", func(this js.Value, _ []js.Value) any {
		get(this, "compress")
		return this // no compression on the wire here: a no-op
	})
	p.method("connect", func(this js.Value, _ []js.Value) any {
		get(this, "connect").connect()
		return this
	})
	p.alias("open", "connect")
	p.method("disconnect", func(this js.Value, _ []js.Value) any {
		s := get(this, "disconnect")
		s.pendingAuth = nil // an auth function answering later must not connect it
		s.ws.Disconnect()
		return this
	})
	p.alias("close", "disconnect")

	anyMethods := func(prefix string, list func(*socket) *[]js.Value) {
		p.method("on"+prefix, func(this js.Value, args []js.Value) any {
			l := list(get(this, "on"+prefix))
			*l = append(*l, fnArg(args, "Socket.on"+prefix))
			return this
		})
		p.method("prepend"+prefix, func(this js.Value, args []js.Value) any {
			l := list(get(this, "prepend"+prefix))
			*l = append([]js.Value{fnArg(args, "Socket.prepend"+prefix)}, *l...)
			return this
		})
		p.method("off"+prefix, func(this js.Value, args []js.Value) any {
			l := list(get(this, "off"+prefix))
			fn := arg(args, 0)
			if isNullish(fn) {
				*l = nil
				return this
			}
			fnArg(args, "Socket.off"+prefix)
			for i, f := range *l {
				if f.Equal(fn) {
					*l = append((*l)[:i:i], (*l)[i+1:]...)
					break
				}
			}
			return this
		})
		p.method("listeners"+prefix, func(this js.Value, _ []js.Value) any {
			return array(*list(get(this, "listeners"+prefix)))
		})
	}
	anyMethods("Any", func(s *socket) *[]js.Value { return &s.anyIn })
	anyMethods("AnyOutgoing", func(s *socket) *[]js.Value { return &s.anyOut })

	p.getter("id", func(this js.Value) any {
		if id := get(this, "id").ws.ID(); id != "" {
			return id
		}
		return jsUndef
	})
	p.getter("connected", func(this js.Value) any { return get(this, "connected").ws.Connected() })
	p.getter("disconnected", func(this js.Value) any { return !get(this, "disconnected").ws.Connected() })
	p.getter("active", func(this js.Value) any { return get(this, "active").ws.Active() })
	p.getter("recovered", func(this js.Value) any { return get(this, "recovered").recovered })
	p.getter("io", func(this js.Value) any { return get(this, "io").m.obj })
	p.getter("nsp", func(this js.Value) any { return get(this, "nsp").nsp })
}

func fnArg(args []js.Value, fname string) js.Value {
	fn := arg(args, 0)
	if kind(fn) != js.TypeFunction {
		panic(typeError("sio: " + fname + "(listener): listener must be a function, got " + describe(fn)))
	}
	return fn
}
