package guest

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unsafe"
)

// ABIVersion is the version of the plugin ABI (plugins/ABI.md) this SDK implements.
const ABIVersion = 1

// Errors returned by Socket methods; they mirror the host's error codes.
var (
	ErrInvalid  = errors.New("sio: invalid argument")              // -1
	ErrState    = errors.New("sio: not allowed in this hook")      // -2
	ErrNotFound = errors.New("sio: not found")                     // -3
	ErrLimit    = errors.New("sio: limit reached")                 // -4
	ErrNoAck    = errors.New("sio: the event asked for no ack")    // ack without request
	ErrAcked    = errors.New("sio: ack already sent or not asked") // second ack
)

func hostErr(code int32) error {
	switch {
	case code >= 0:
		return nil
	case code == -1:
		return ErrInvalid
	case code == -2:
		return ErrState
	case code == -3:
		return ErrNotFound
	case code == -4:
		return ErrLimit
	}
	return errors.New("sio: host error " + strconv.Itoa(int(code)))
}

// JSON is one argument given as raw JSON text, emitted as it is.
type JSON []byte

// Object is a JSON object with its keys in order: key, value, key, value...
// (map[string]any works too, with sorted keys).
type Object []any

// Level is a log level.
type Level int32

// Log levels, as the host's log function numbers them.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Log writes msg to the host's log, tagged with the plugin's name and the
// event being handled.
func Log(level Level, msg string) { hostLog(int32(level), strBytes(msg)) }

// Debug logs at debug level.
func Debug(msg string) { Log(LevelDebug, msg) }

// Info logs at info level.
func Info(msg string) { Log(LevelInfo, msg) }

// Warn logs at warn level.
func Warn(msg string) { Log(LevelWarn, msg) }

// Error logs at error level.
func Error(msg string) { Log(LevelError, msg) }

// Config returns the plugin's configuration: the raw JSON the host was
// given for it ("null" when none).
func Config() []byte {
	buf := make([]byte, 256)
	for {
		n := hostConfig(buf)
		if n < 0 {
			return nil
		}
		if int(n) <= len(buf) {
			return buf[:n]
		}
		buf = make([]byte, n)
	}
}

// ---------------------------------------------------------------------------
// registration

type registry struct {
	init       []func() error
	connect    []func(Socket, Handshake) error
	events     map[string]func(Socket, Args)
	anyEvent   []func(Socket, string, Args) bool
	disconnect []func(Socket, string)
}

var reg = registry{events: map[string]func(Socket, Args){}}

// On registers the handler of event. Register handlers from an init
// function of package main: the host loads the plugin as a WebAssembly
// reactor and never calls main. Events without a handler (and that no
// OnAny handler takes) are declined: they go on to the host's next
// handler. A handler may also decline with Socket.Decline.
func On(event string, fn func(s Socket, args Args)) { reg.events[event] = fn }

// OnAny registers a handler for events that have no On handler; it returns
// false to decline the event. With an OnAny handler the plugin receives
// every event of its namespace, otherwise only those registered with On.
func OnAny(fn func(s Socket, event string, args Args) bool) { reg.anyEvent = append(reg.anyEvent, fn) }

// OnConnect registers a connect check: return nil to accept the socket, an
// error to refuse it (a *ConnectError carries data to the client). Every
// OnConnect handler must accept. Emits, joins and data set here take
// effect once the socket is admitted.
func OnConnect(fn func(s Socket, hs Handshake) error) { reg.connect = append(reg.connect, fn) }

// OnDisconnect registers a handler called when a socket leaves. The socket
// has left its rooms already; emits to it are dropped.
func OnDisconnect(fn func(s Socket, reason string)) { reg.disconnect = append(reg.disconnect, fn) }

// OnInit registers a function run once per plugin instance, after the
// package init functions; an error fails the instance (and the plugin load).
func OnInit(fn func() error) { reg.init = append(reg.init, fn) }

// ConnectError refuses a connection with a message and optional data (raw
// JSON) for the client's connect_error.
type ConnectError struct {
	Message string
	Data    JSON
}

func (e *ConnectError) Error() string { return e.Message }

// hook mask bits returned by sio_init.
const (
	hookConnect    = 1
	hookEvent      = 2
	hookDisconnect = 4
)

func runInit() int32 {
	for _, fn := range reg.init {
		if err := fn(); err != nil {
			Error("init: " + err.Error())
			return -1
		}
	}
	mask := int32(0)
	if len(reg.connect) > 0 {
		mask |= hookConnect
	}
	if len(reg.events) > 0 || len(reg.anyEvent) > 0 {
		mask |= hookEvent
	}
	if len(reg.disconnect) > 0 {
		mask |= hookDisconnect
	}
	if len(reg.anyEvent) == 0 {
		for name := range reg.events {
			hostSubscribe(strBytes(name))
		}
	}
	return mask
}

// ---------------------------------------------------------------------------
// input records (see ABI.md, "Input records")

const (
	kindConnect    = 1
	kindEvent      = 2
	kindDisconnect = 3
	headerLen      = 16
)

type record struct {
	kind   uint32
	flags  uint32
	ackID  uint64
	fields [4][]byte
	rest   []byte
}

// parseRecord reads the header and n (at most 4) fields; rest is what
// follows them. The fields alias b.
func parseRecord(r *record, b []byte, n int) bool {
	if len(b) < headerLen {
		return false
	}
	r.kind = binary.LittleEndian.Uint32(b)
	r.flags = binary.LittleEndian.Uint32(b[4:])
	r.ackID = binary.LittleEndian.Uint64(b[8:])
	b = b[headerLen:]
	for i := 0; i < n; i++ {
		f, tail, ok := nextField(b)
		if !ok {
			return false
		}
		r.fields[i] = f
		b = tail
	}
	r.rest = b
	return true
}

func nextField(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

func appendField(dst, f []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f)))
	return append(dst, f...)
}

// current is the state of the hook being run (the guest runs one at a time).
var current struct {
	declined bool
	acked    bool
}

// The hook being run: the guest runs one at a time, so its record and
// arguments live in globals, reused from call to call (no allocation on
// the hot path, where a Go guest pays dearly for each).
var (
	rec     record
	curArgs argsData
	attList [][]byte
)

func handleConnect(in []byte) int32 {
	if !parseRecord(&rec, in, 3) || rec.kind != kindConnect {
		return -1
	}
	s := Socket{id: rec.fields[0], nsp: rec.fields[1]}
	hs := Handshake{raw: rec.fields[2]}
	for _, fn := range reg.connect {
		if err := fn(s, hs); err != nil {
			var data []byte
			var ce *ConnectError
			if errors.As(err, &ce) {
				data = ce.Data
			}
			hostRefuse(strBytes(err.Error()), data)
			return 1
		}
	}
	return 0
}

func handleEvent(in []byte) int32 {
	if !parseRecord(&rec, in, 4) || rec.kind != kindEvent {
		return -1
	}
	atts := attList[:0]
	for rest := rec.rest; len(rest) > 0; {
		f, tail, ok := nextField(rest)
		if !ok {
			return -1
		}
		atts = append(atts, f)
		rest = tail
	}
	attList = atts
	curArgs = argsData{json: rec.fields[3], att: atts, elems: curArgs.elems[:0], split: false}
	s := Socket{id: rec.fields[0], nsp: rec.fields[1], ack: rec.flags&1 != 0, ackID: rec.ackID}
	args := Args{d: &curArgs}
	current.declined, current.acked = false, false
	if fn, ok := reg.events[string(rec.fields[2])]; ok {
		fn(s, args)
		if current.declined {
			return 1
		}
		return 0
	}
	if len(reg.anyEvent) == 0 {
		return 1
	}
	name := string(rec.fields[2])
	for _, fn := range reg.anyEvent {
		current.declined = false
		if fn(s, name, args) && !current.declined {
			return 0
		}
	}
	return 1
}

func handleDisconnect(in []byte) {
	if !parseRecord(&rec, in, 3) || rec.kind != kindDisconnect {
		return
	}
	s := Socket{id: rec.fields[0], nsp: rec.fields[1]}
	reason := string(rec.fields[2])
	for _, fn := range reg.disconnect {
		fn(s, reason)
	}
}

// ---------------------------------------------------------------------------
// Socket

// Socket is the socket whose hook is running. Its methods queue effects in
// the host (emits, acks, joins...), applied in order once the hook returns.
// A Socket is valid during its hook only: keep its ID, not the Socket.
type Socket struct {
	id, nsp []byte // views of the input record
	ack     bool
	ackID   uint64
}

// ID returns the socket id.
func (s Socket) ID() string { return string(s.id) }

// Namespace returns the socket's namespace name.
func (s Socket) Namespace() string { return string(s.nsp) }

// AckRequested reports whether the client asked for an acknowledgement of
// the current event.
func (s Socket) AckRequested() bool { return s.ack }

// AckID returns the current event's ack id (when AckRequested).
func (s Socket) AckID() uint64 { return s.ackID }

// Decline hands the current event on to the host's next handler, as if
// the plugin had no handler for it. Effects already queued still apply.
func (s Socket) Decline() { current.declined = true }

// Emit sends event to this socket. Arguments: nil, bool, numbers, string,
// []byte (binary), JSON (raw JSON), []any, []string, map[string]any,
// map[string]string, Object, and Raw or Args (every argument of a received
// event, spliced in place).
func (s Socket) Emit(event string, args ...any) error {
	return emit(targetSelf, nil, event, args)
}

// Ack answers the current event. It may be called once, when
// AckRequested.
func (s Socket) Ack(args ...any) error {
	if !s.ack {
		return ErrNoAck
	}
	if current.acked {
		return ErrAcked
	}
	out, err := encodeArgs(args)
	if err != nil {
		return err
	}
	if err := hostErr(hostAck(out.args, out.atts)); err != nil {
		return err
	}
	current.acked = true
	return nil
}

// To selects rooms for a broadcast that excludes this socket (socket.to(room)).
func (s Socket) To(rooms ...string) Broadcast {
	return Broadcast{target: targetBroadcast, rooms: rooms}
}

// Broadcast returns a broadcast to every socket of the namespace but this one.
func (s Socket) Broadcast() Broadcast { return Broadcast{target: targetBroadcast} }

// Nsp returns a broadcast to every socket of the namespace, this one
// included (socket.nsp); narrow it with To.
func (s Socket) Nsp() Broadcast { return Broadcast{target: targetNamespace} }

// Join adds the socket to rooms.
func (s Socket) Join(rooms ...string) error {
	for _, r := range rooms {
		if err := hostErr(hostJoin(strBytes(r))); err != nil {
			return err
		}
	}
	return nil
}

// Leave removes the socket from room.
func (s Socket) Leave(room string) error { return hostErr(hostLeave(strBytes(room))) }

// Rooms returns the socket's rooms, sorted, its own id among them, as they
// will be once the hook's joins and leaves apply.
func (s Socket) Rooms() []string {
	buf := make([]byte, 256)
	for {
		n := hostRooms(buf)
		if n < 0 {
			return nil
		}
		if int(n) > len(buf) {
			buf = make([]byte, n)
			continue
		}
		var out []string
		for _, e := range splitArray(nil, buf[:n]) {
			if r, ok := unquote(e); ok {
				out = append(out, r)
			}
		}
		return out
	}
}

// Disconnect disconnects the socket once the hook returns; with close set
// the whole connection closes.
func (s Socket) Disconnect(close bool) error {
	c := int32(0)
	if close {
		c = 1
	}
	return hostErr(hostDisconnect(c))
}

// Data returns the value stored under key for this socket (by this
// plugin). The host keeps it: instances are pooled, not tied to sockets.
func (s Socket) Data(key string) ([]byte, bool) {
	buf := make([]byte, 128)
	for {
		n := hostDataGet(strBytes(key), buf)
		if n < 0 {
			return nil, false
		}
		if int(n) > len(buf) {
			buf = make([]byte, n)
			continue
		}
		return buf[:n], true
	}
}

// SetData stores value under key for this socket; an empty value removes
// the key. ErrLimit when the socket's data would exceed the host's cap.
func (s Socket) SetData(key string, value []byte) error {
	return hostErr(hostDataSet(strBytes(key), value))
}

// Broadcast is a broadcast being built (see Socket.To, Broadcast, Nsp).
type Broadcast struct {
	target int32
	rooms  []string
}

// To narrows the broadcast to sockets in any of rooms.
func (b Broadcast) To(rooms ...string) Broadcast {
	b.rooms = append(append([]string(nil), b.rooms...), rooms...)
	return b
}

// Emit sends event to the selected sockets.
func (b Broadcast) Emit(event string, args ...any) error {
	return emit(b.target, b.rooms, event, args)
}

// Emit targets of the host's emit function.
const (
	targetSelf      = 0
	targetBroadcast = 1
	targetNamespace = 2
)

type encoded struct {
	args []byte // JSON array
	atts []byte // attachment list (fields)
}

var scratch struct {
	args, atts, rooms []byte
	att               [][]byte
}

func encodeArgs(args []any) (encoded, error) {
	out := scratch.args[:0]
	att := scratch.att[:0]
	out = append(out, '[')
	first := true
	for _, a := range args {
		var raw []byte
		var ratt [][]byte
		switch x := a.(type) {
		case Raw:
			d := Args(x).data()
			raw, ratt = d.json, d.att
		case Args:
			d := x.data()
			raw, ratt = d.json, d.att
		default:
			if !first {
				out = append(out, ',')
			}
			first = false
			var err error
			if out, att, err = appendValue(out, a, att); err != nil {
				return encoded{}, err
			}
			continue
		}
		// splice the elements of a received argument list
		i := skipSpace(raw, 0)
		j := len(raw)
		for j > i && raw[j-1] != ']' {
			j--
		}
		if i >= j || raw[i] != '[' {
			continue
		}
		inner := raw[i+1 : j-1]
		if len(trim(inner)) == 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendShifted(out, inner, len(att))
		att = append(att, ratt...)
	}
	out = append(out, ']')
	atts := scratch.atts[:0]
	for _, a := range att {
		atts = appendField(atts, a)
	}
	scratch.args, scratch.atts = out, atts
	clear(att)
	scratch.att = att[:0]
	return encoded{args: out, atts: atts}, nil
}

func trim(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == '\n' || b[j-1] == '\r') {
		j--
	}
	return b[i:j]
}

func emit(target int32, rooms []string, event string, args []any) error {
	out, err := encodeArgs(args)
	if err != nil {
		return err
	}
	rl := scratch.rooms[:0]
	for _, r := range rooms {
		rl = appendField(rl, strBytes(r))
	}
	scratch.rooms = rl
	return hostErr(hostEmit(target, rl, strBytes(event), out.args, out.atts))
}

// ---------------------------------------------------------------------------
// Args and Handshake

// Args are a received event's arguments, as raw JSON. They point into the
// host's input buffer and are valid during the handler only: copy what you
// keep.
type Args struct{ d *argsData }

type argsData struct {
	json  []byte   // the JSON array
	elems [][]byte // split lazily
	split bool
	att   [][]byte
}

// Raw is a whole argument list, as received: pass it to Emit or Ack to
// send every argument on unchanged, binary ones included.
type Raw struct{ d *argsData }

// Raw returns the whole argument list, to send on unchanged
// (s.To("lobby").Emit("chat", args.Raw())).
func (a Args) Raw() Raw { return Raw{d: a.data()} }

var emptyArgs = argsData{json: []byte("[]"), split: true}

func (a Args) data() *argsData {
	if a.d == nil {
		return &emptyArgs
	}
	return a.d
}

// JSON returns the arguments as one JSON array (binary arguments appear as
// placeholders {"_placeholder":true,"num":N}, see Attachments).
func (a Args) JSON() []byte { return a.data().json }

// Attachments returns the binary attachments, in placeholder order.
func (a Args) Attachments() [][]byte { return a.data().att }

func (a Args) elems() [][]byte {
	d := a.data()
	if !d.split {
		d.elems = splitArray(d.elems[:0], d.json)
		d.split = true
	}
	return d.elems
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.elems()) }

// At returns the raw JSON of argument i, or nil.
func (a Args) At(i int) []byte {
	e := a.elems()
	if i < 0 || i >= len(e) {
		return nil
	}
	return e[i]
}

// String returns argument i when it is a JSON string.
func (a Args) String(i int) (string, bool) { return unquote(a.At(i)) }

// Int returns argument i when it is a JSON number with an integer value.
func (a Args) Int(i int) (int64, bool) {
	n, err := strconv.ParseInt(string(a.At(i)), 10, 64)
	if err != nil {
		f, ok := a.Float(i)
		if !ok || f != float64(int64(f)) {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

// Float returns argument i when it is a JSON number.
func (a Args) Float(i int) (float64, bool) {
	raw := a.At(i)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// Bool returns argument i when it is true or false.
func (a Args) Bool(i int) (bool, bool) {
	switch string(a.At(i)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Bytes returns argument i when it is binary.
func (a Args) Bytes(i int) ([]byte, bool) {
	n, ok := placeholder(a.At(i))
	if !ok || n >= len(a.data().att) {
		return nil, false
	}
	return a.data().att[n], true
}

// Field returns the raw JSON of key in argument i when it is an object.
func (a Args) Field(i int, key string) []byte { return objectGet(a.At(i), key) }

// Handshake describes the connection request of a connecting socket.
type Handshake struct{ raw []byte }

// JSON returns the handshake as the host encoded it: an object with auth,
// query, headers, address, url, secure, xdomain and time (see ABI.md).
func (h Handshake) JSON() []byte { return h.raw }

// Auth returns the raw JSON of the CONNECT payload ({} when none).
func (h Handshake) Auth() []byte { return objectGet(h.raw, "auth") }

// AuthString returns the string value of key in the auth object.
func (h Handshake) AuthString(key string) (string, bool) {
	return unquote(objectGet(h.Auth(), key))
}

// Query returns the first value of the query parameter key.
func (h Handshake) Query(key string) string {
	vals := splitArray(nil, objectGet(objectGet(h.raw, "query"), key))
	if len(vals) == 0 {
		return ""
	}
	s, _ := unquote(vals[0])
	return s
}

// Address returns the client's address.
func (h Handshake) Address() string {
	s, _ := unquote(objectGet(h.raw, "address"))
	return s
}

// strBytes views s as bytes without copying; the host only reads them.
func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ConfigValue returns the raw JSON of key in the configuration object conf
// (see Config), or nil.
func ConfigValue(conf []byte, key string) []byte { return objectGet(conf, key) }

// ConfigString returns key of the configuration object conf as a string:
// a JSON string's value, or the JSON text of any other value.
func ConfigString(conf []byte, key string) (string, bool) {
	v := objectGet(conf, key)
	if len(v) == 0 {
		return "", false
	}
	if v[0] == '"' {
		return unquote(v)
	}
	return string(v), true
}
