//go:build js && wasm

package main

import (
	"errors"
	"math"
	"strings"
	"syscall/js"
	"time"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/transport/wasm"
)

// options are the options of io() and Manager, checked.
type options struct {
	path            string
	transports      []string
	upgrade         bool
	query           [][2]string
	hasQuery        bool
	extraHeaders    [][2]string
	withCredentials bool
	cfg             client.Config
	forceNew        bool
	multiplex       bool
	autoConnect     bool
	sock            sockOptions
}

// sockOptions are the options of a socket (io() options, or Manager.socket's).
type sockOptions struct {
	auth          js.Value // undefined, an object or a function
	ackTimeout    time.Duration
	hasAckTimeout bool
	retries       int
}

// optReader reads and checks the options object o for the function fn.
type optReader struct {
	o  js.Value
	fn string
}

func (r optReader) get(name string) js.Value {
	if isNullish(r.o) {
		return jsUndef
	}
	return r.o.Get(name)
}

func (r optReader) bad(name, want string, v js.Value) {
	panic(typeError("sio: " + r.fn + ": option \"" + name + "\" must be " + want + ", got " + describe(v)))
}

func (r optReader) boolean(name string, def bool) bool {
	v := r.get(name)
	if isNullish(v) {
		return def
	}
	if kind(v) != js.TypeBoolean {
		r.bad(name, "a boolean", v)
	}
	return v.Bool()
}

// number returns a non-negative number option (Infinity allowed).
func (r optReader) number(name string) (float64, bool) {
	v := r.get(name)
	if isNullish(v) {
		return 0, false
	}
	if kind(v) != js.TypeNumber || math.IsNaN(v.Float()) || v.Float() < 0 {
		r.bad(name, "a non-negative number", v)
	}
	return v.Float(), true
}

func (r optReader) str(name, def string) string {
	v := r.get(name)
	if isNullish(v) {
		return def
	}
	if kind(v) != js.TypeString {
		r.bad(name, "a string", v)
	}
	return v.String()
}

// pairs reads an object of string-convertible values as (key, value) pairs.
func (r optReader) pairs(name string, v js.Value) [][2]string {
	if !isPlainObject(v) {
		r.bad(name, "an object", v)
	}
	keys := jsObject.Call("keys", v)
	out := make([][2]string, 0, keys.Length())
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		val := v.Get(k)
		if kind(val) == js.TypeUndefined {
			continue
		}
		out = append(out, [2]string{k, global.Call("String", val).String()})
	}
	return out
}

// ms converts milliseconds to a Duration, saturating.
func ms(f float64) time.Duration {
	d := f * float64(time.Millisecond)
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	if d < 1 {
		return 1 // 0 ms: at once, not "the default" of the engine's zero value
	}
	return time.Duration(d)
}

func parseSockOptions(r optReader) sockOptions {
	var so sockOptions
	so.auth = r.get("auth")
	if isNullish(so.auth) {
		so.auth = jsUndef
	} else if kind(so.auth) != js.TypeFunction && !isPlainObject(so.auth) {
		r.bad("auth", "an object or a function", so.auth)
	}
	if f, ok := r.number("ackTimeout"); ok {
		so.ackTimeout, so.hasAckTimeout = ms(f), true
	}
	if f, ok := r.number("retries"); ok {
		if f > math.MaxInt32 {
			f = math.MaxInt32
		}
		so.retries = int(f)
	}
	return so
}

func parseOptions(o js.Value, fn string) options {
	if !isNullish(o) && !isPlainObject(o) {
		panic(typeError("sio: " + fn + ": options must be an object, got " + describe(o)))
	}
	r := optReader{o: o, fn: fn}
	var opt options
	opt.path = r.str("path", "/socket.io")
	if r.boolean("addTrailingSlash", true) && !strings.HasSuffix(opt.path, "/") {
		opt.path += "/"
	}
	if v := r.get("transports"); !isNullish(v) {
		if !jsArray.Call("isArray", v).Bool() {
			r.bad("transports", "an array", v)
		}
		for i := 0; i < v.Length(); i++ {
			t := v.Index(i)
			if kind(t) != js.TypeString {
				r.bad("transports", "an array of strings", t)
			}
			opt.transports = append(opt.transports, t.String())
		}
	}
	opt.upgrade = r.boolean("upgrade", true)
	if v := r.get("query"); !isNullish(v) {
		opt.hasQuery = true
		if kind(v) == js.TypeString {
			entries := jsArray.Call("from", global.Get("URLSearchParams").New(v))
			for i := 0; i < entries.Length(); i++ {
				e := entries.Index(i)
				opt.query = append(opt.query, [2]string{e.Index(0).String(), e.Index(1).String()})
			}
		} else {
			opt.query = r.pairs("query", v)
		}
	}
	if v := r.get("extraHeaders"); !isNullish(v) {
		opt.extraHeaders = r.pairs("extraHeaders", v)
	}
	opt.withCredentials = r.boolean("withCredentials", false)
	opt.forceNew = r.boolean("forceNew", false) || r.boolean("force new connection", false)
	opt.multiplex = r.boolean("multiplex", true)
	opt.autoConnect = r.boolean("autoConnect", true)

	c := &opt.cfg
	c.DisableReconnection = !r.boolean("reconnection", true)
	if f, ok := r.number("reconnectionAttempts"); ok {
		switch {
		case f == 0:
			c.DisableReconnection = true
		case f < math.MaxInt32:
			c.ReconnectionAttempts = int(f)
		} // Infinity: no limit, the zero value
	}
	if f, ok := r.number("reconnectionDelay"); ok {
		c.ReconnectionDelay = ms(f)
	}
	if f, ok := r.number("reconnectionDelayMax"); ok {
		c.ReconnectionDelayMax = ms(f)
	}
	if f, ok := r.number("randomizationFactor"); ok {
		if f == 0 {
			c.RandomizationFactor = -1 // no jitter (the engine's zero means the default)
		} else {
			c.RandomizationFactor = f
		}
	}
	if v := r.get("timeout"); kind(v) == js.TypeBoolean && !v.Bool() {
		c.Timeout = -1
	} else if f, ok := r.number("timeout"); ok {
		c.Timeout = ms(f)
	}
	opt.sock = parseSockOptions(r)
	c.Retries = opt.sock.retries
	return opt
}

// target is a parsed io() or Manager URL.
type target struct {
	origin string // scheme://host[:port]
	nsp    string
	query  [][2]string
}

// parseURL resolves uri as the reference client does: relative to the
// page's location, "http(s)://" assumed when no scheme is given.
func parseURL(uri string, hasURI bool, fn string) target {
	loc := global.Get("location")
	hasLoc := kind(loc) == js.TypeObject && kind(loc.Get("host")) == js.TypeString && loc.Get("host").String() != ""
	if !hasURI {
		if !hasLoc {
			panic(typeError("sio: " + fn + ": a URL is required outside of a web page"))
		}
		uri = loc.Get("protocol").String() + "//" + loc.Get("host").String()
	}
	switch {
	case strings.HasPrefix(uri, "//"):
		if hasLoc {
			uri = loc.Get("protocol").String() + uri
		} else {
			uri = "https:" + uri
		}
	case strings.HasPrefix(uri, "/") && hasLoc:
		uri = loc.Get("host").String() + uri
	}
	lower := strings.ToLower(uri)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") &&
		!strings.HasPrefix(lower, "ws://") && !strings.HasPrefix(lower, "wss://") {
		if hasLoc {
			uri = loc.Get("protocol").String() + "//" + uri
		} else {
			uri = "https://" + uri
		}
	}
	var u js.Value
	if err := wasm.Catch(func() { u = global.Get("URL").New(uri) }); err != nil {
		panic(typeError("sio: " + fn + ": invalid URL " + uri))
	}
	t := target{origin: u.Get("protocol").String() + "//" + u.Get("host").String(), nsp: u.Get("pathname").String()}
	if t.nsp == "" {
		t.nsp = "/"
	}
	entries := jsArray.Call("from", u.Get("searchParams"))
	for i := 0; i < entries.Length(); i++ {
		e := entries.Index(i)
		t.query = append(t.query, [2]string{e.Index(0).String(), e.Index(1).String()})
	}
	return t
}

// uriAndOptions reads (uri?, opts?) as io() and Manager take them.
func uriAndOptions(args []js.Value, fn string) (string, bool, js.Value) {
	a0, a1 := arg(args, 0), arg(args, 1)
	switch {
	case kind(a0) == js.TypeString:
		return a0.String(), true, a1
	case isNullish(a0):
		return "", false, a1
	case a0.InstanceOf(global.Get("URL")):
		return a0.Get("href").String(), true, a1
	case isPlainObject(a0) && isNullish(a1):
		return "", false, a0
	}
	panic(typeError("sio: " + fn + "(url, options): url must be a string, got " + describe(a0)))
}

// cache holds the managers io() shares between namespaces (multiplex).
var cache = map[string]*manager{}

// lookup is io(url, options).
func lookup(args []js.Value) js.Value {
	uri, hasURI, o := uriAndOptions(args, "io")
	opt := parseOptions(o, "io()")
	t := parseURL(uri, hasURI, "io()")
	if !opt.hasQuery {
		opt.query = t.query
	}
	cached := cache[t.origin]
	var m *manager
	if opt.forceNew || !opt.multiplex || (cached != nil && cached.sockets[t.nsp] != nil) {
		m = newManager(t, opt)
	} else {
		if cached == nil {
			cached = newManager(t, opt)
			cache[t.origin] = cached
		}
		m = cached
	}
	return m.socket(t.nsp, opt.sock).obj
}

// newManagerFromJS is new Manager(url, options).
func newManagerFromJS(args []js.Value) js.Value {
	uri, hasURI, o := uriAndOptions(args, "Manager")
	opt := parseOptions(o, "new Manager()")
	t := parseURL(uri, hasURI, "new Manager()")
	if !opt.hasQuery {
		opt.query = t.query
	}
	m := newManager(t, opt)
	if opt.autoConnect {
		m.wm.Open()
	}
	return m.obj
}

// manager is the Go side of a Manager object.
type manager struct {
	obj       js.Value
	engineObj js.Value
	wm        *wasm.Manager
	em        emitter
	engineEm  emitter
	sockets   map[string]*socket
	order     []*socket
	opt       options
	openCbs   []js.Value
}

func (m *manager) emitterOf() *emitter { return &m.em }

func newManager(t target, opt options) *manager {
	m := &manager{sockets: map[string]*socket{}, opt: opt}
	wm, err := wasm.NewManager(wasm.Options{
		URL:             t.origin,
		Path:            opt.path,
		Query:           opt.query,
		Transports:      opt.transports,
		DisableUpgrade:  !opt.upgrade,
		ExtraHeaders:    opt.extraHeaders,
		WithCredentials: opt.withCredentials,
		Client:          opt.cfg,
		Handler:         m,
	})
	if err != nil {
		panic(typeError("sio: " + err.Error()))
	}
	m.wm = wm
	m.obj, _ = newObject(managerProto, m)
	return m
}

// socket returns the socket of nsp, creating it (Manager.socket).
func (m *manager) socket(nsp string, so sockOptions) *socket {
	if s := m.sockets[nsp]; s != nil {
		if m.opt.autoConnect && !s.ws.Active() {
			s.connect()
		}
		return s
	}
	ws, err := m.wm.Socket(nsp, nil)
	if err != nil {
		panic(plainError("sio: invalid namespace " + nsp + ": " + err.Error()))
	}
	s := newSocket(m, ws, nsp, so)
	m.sockets[nsp] = s
	m.order = append(m.order, s)
	if m.opt.autoConnect {
		s.connect()
	}
	return s
}

// errorValue returns a JavaScript Error for err: type "TransportError" and
// a description for a failed transport, as the reference client.
func errorValue(err error) js.Value {
	props := jsObject.New()
	var te *wasm.TransportError
	if errors.As(err, &te) {
		props.Set("type", "TransportError")
		if te.Err != nil {
			props.Set("description", te.Err.Error())
		}
	}
	return h.Call("error", err.Error(), props)
}

// Event implements wasm.Handler.
func (m *manager) Event(ev client.Event) {
	if ev.Nsp != "" {
		if s := m.sockets[ev.Nsp]; s != nil {
			s.event(ev)
		}
		return
	}
	switch ev.Kind {
	case client.EventOpen:
		m.em.emit(m.obj, "open")
		m.engineEm.emit(m.engine(), "open")
		m.openDone(jsUndef)
	case client.EventError:
		e := errorValue(ev.Err)
		m.em.emit(m.obj, "error", e)
		m.openDone(e)
	case client.EventClose:
		m.em.emit(m.obj, "close", js.ValueOf(ev.Reason))
		m.engineEm.emit(m.engine(), "close", js.ValueOf(ev.Reason))
	case client.EventReconnectAttempt:
		m.em.emit(m.obj, "reconnect_attempt", js.ValueOf(ev.Attempt))
	case client.EventReconnect:
		m.em.emit(m.obj, "reconnect", js.ValueOf(ev.Attempt))
	case client.EventReconnectError:
		m.em.emit(m.obj, "reconnect_error", errorValue(ev.Err))
	case client.EventReconnectFailed:
		m.em.emit(m.obj, "reconnect_failed")
	}
}

func (m *manager) openDone(err js.Value) {
	cbs := m.openCbs
	m.openCbs = nil
	if len(cbs) > 0 {
		args := []js.Value{}
		if !isNullish(err) {
			args = append(args, err)
		}
		h.Call("call", array(cbs), m.obj, array(args))
	}
}

// Transport implements wasm.Handler.
func (m *manager) Transport(name string, upgrade bool) {
	if upgrade {
		m.engineEm.emit(m.engine(), "upgrade", transportValue(name))
	}
}

// Open implements wasm.Handler: the credentials of the active sockets are
// refreshed (auth functions called) before their CONNECT packets go.
func (m *manager) Open(ready func()) {
	pending := 1
	done := func() {
		pending--
		if pending == 0 {
			ready()
		}
	}
	for _, s := range m.order {
		if s.ws.Active() {
			pending++
			s.refreshAuth(done)
		}
	}
	done()
}

func transportValue(name string) js.Value {
	t := jsObject.New()
	t.Set("name", name)
	return t
}

// engine returns the object of socket.io.engine.
func (m *manager) engine() js.Value {
	if kind(m.engineObj) != js.TypeObject {
		m.engineObj, _ = newObject(engineProto, &engine{m: m})
	}
	return m.engineObj
}

// engine is the Go side of the socket.io.engine object.
type engine struct{ m *manager }

func (e *engine) emitterOf() *emitter { return &e.m.engineEm }

var managerProto, engineProto js.Value

func initManagerProto() {
	p := newProto()
	managerProto = p.obj
	addEmitterMethods[*manager](p, "Manager")
	p.method("socket", func(this js.Value, args []js.Value) any {
		m := self[*manager](this, "Manager", "Manager.socket")
		nsp := arg(args, 0)
		if kind(nsp) != js.TypeString {
			panic(typeError("sio: Manager.socket(nsp, options): nsp must be a string, got " + describe(nsp)))
		}
		o := arg(args, 1)
		if !isNullish(o) && !isPlainObject(o) {
			panic(typeError("sio: Manager.socket(nsp, options): options must be an object, got " + describe(o)))
		}
		return m.socket(nsp.String(), parseSockOptions(optReader{o: o, fn: "Manager.socket()"})).obj
	})
	p.method("open", func(this js.Value, args []js.Value) any {
		m := self[*manager](this, "Manager", "Manager.open")
		fn := arg(args, 0)
		if !isNullish(fn) && kind(fn) != js.TypeFunction {
			panic(typeError("sio: Manager.open(callback): callback must be a function, got " + describe(fn)))
		}
		if m.wm.State() != client.StateClosed {
			return this
		}
		if kind(fn) == js.TypeFunction {
			m.openCbs = append(m.openCbs, fn)
		}
		m.wm.Open()
		return this
	})
	p.alias("connect", "open")
	p.getter("engine", func(this js.Value) any {
		return self[*manager](this, "Manager", "Manager.engine").engine()
	})
	p.getter("_readyState", func(this js.Value) any {
		return self[*manager](this, "Manager", "Manager._readyState").wm.State().String()
	})

	e := newProto()
	engineProto = e.obj
	addEmitterMethods[*engine](e, "Engine")
	e.getter("id", func(this js.Value) any {
		if id := self[*engine](this, "Engine", "Engine.id").m.wm.EngineID(); id != "" {
			return id
		}
		return jsUndef
	})
	e.getter("transport", func(this js.Value) any {
		if name := self[*engine](this, "Engine", "Engine.transport").m.wm.Transport(); name != "" {
			return transportValue(name)
		}
		return jsUndef
	})
	e.method("close", func(this js.Value, _ []js.Value) any {
		self[*engine](this, "Engine", "Engine.close").m.wm.CloseEngine()
		return this
	})
	e.getter("readyState", func(this js.Value) any {
		return self[*engine](this, "Engine", "Engine.readyState").m.wm.State().String()
	})
}
