package plugins

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/packet"
)

// ABIVersion is the plugin ABI version this host implements (ABI.md).
const ABIVersion = 1

// Hook kinds, as in input records.
const (
	hookInit       = 0
	kindConnect    = 1
	kindEvent      = 2
	kindDisconnect = 3
	headerLen      = 16
)

// Bits of the hook mask returned by sio_init.
const (
	maskConnect    = 1
	maskEvent      = 2
	maskDisconnect = 4
	maskAll        = maskConnect | maskEvent | maskDisconnect
)

// Host function results.
const (
	codeOK       = 0
	codeInvalid  = -1
	codeState    = -2
	codeNotFound = -3
	codeLimit    = -4
)

// Emit targets.
const (
	targetSelf      = 0
	targetBroadcast = 1
	targetNamespace = 2
)

var hookNames = [...]string{"init", "connect", "event", "disconnect"}

// effect is one thing a hook asked for, applied after the call returned.
type effect struct {
	op     uint8
	target int32
	close  bool
	room   string   // join, leave
	rooms  []string // emit
	event  string
	args   [][]byte // raw JSON of each argument
	atts   [][]byte
}

const (
	opEmit = iota + 1
	opAck
	opJoin
	opLeave
	opDisconnect
)

// callState is what the host functions of one call see and record.
type callState struct {
	hook   int
	sock   *sockState // nil during init
	event  string
	ack    bool
	acked  bool
	effs   []effect
	bytes  int
	logs   int
	fault  error // a breached limit or a bad pointer: the call is aborted
	refuse *refusal
	data   map[string][]byte // data_set overlay (nil value: deleted)
	dsize  int               // socket data size with the overlay applied
	subs   []string          // subscribe during init
	in     *sio.Args         // the event's arguments, for pass-through
}

type refusal struct {
	message string
	data    []byte
}

func (cs *callState) reset(hook int, st *sockState) {
	*cs = callState{hook: hook, sock: st}
	if st != nil {
		cs.dsize = st.dataSize
	}
}

type instKey struct{}

var (
	errEmitLimit    = errors.New("per-call emit bytes cap exceeded")
	errEffectsLimit = errors.New("per-call effects cap exceeded")
	errBadMemory    = errors.New("pointer and length out of the guest's memory")
)

func abort(cs *callState, err error) {
	cs.fault = err
	panic(err) // wazero turns it into the call's error
}

func instanceOf(ctx context.Context) *instance { return ctx.Value(instKey{}).(*instance) }

func read(cs *callState, mod api.Module, ptr, n uint64) []byte {
	// i32 values sit in the low half of a stack slot; the high half is undefined.
	p, l := uint32(ptr), uint32(n)
	if l == 0 {
		return nil
	}
	b, ok := mod.Memory().Read(p, l)
	if !ok {
		abort(cs, errBadMemory)
	}
	// A view up to the end of memory would let a parsing slip read past
	// the range the guest gave without notice; at its exact capacity the
	// slip panics, which fails the call (and the fuzz targets).
	return b[:l:l]
}

// writeOut copies v into the guest's buffer when it fits and returns len(v).
func writeOut(cs *callState, mod api.Module, ptr, capacity uint64, v []byte) uint64 {
	if len(v) <= int(uint32(capacity)) && len(v) > 0 {
		if !mod.Memory().Write(uint32(ptr), v) {
			abort(cs, errBadMemory)
		}
	}
	return api.EncodeI32(int32(len(v)))
}

func ret(stack []uint64, code int32) { stack[0] = api.EncodeI32(code) }

// parseList reads a list of fields (u32 length + bytes each).
func parseList(b []byte) ([][]byte, bool) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, false
		}
		n := binary.LittleEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, false
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out, true
}

func (cs *callState) count(p *Plugin, n int) {
	cs.bytes += n
	if cs.bytes > p.limits.EmitBytes {
		abort(cs, errEmitLimit)
	}
	if len(cs.effs) >= p.limits.Effects {
		abort(cs, errEffectsLimit)
	}
}

// parseArgs validates a JSON array of arguments and its attachment list,
// and copies them out of guest memory.
func parseArgs(argsMem, attsMem []byte) (args, atts [][]byte, ok bool) {
	if len(argsMem) > 0 {
		if !json.Valid(argsMem) {
			return nil, nil, false
		}
		buf := bytes.Clone(argsMem)
		var err error
		if args, err = packet.SplitArray(nil, buf); err != nil {
			return nil, nil, false
		}
	}
	list, ok := parseList(attsMem)
	if !ok {
		return nil, nil, false
	}
	if len(list) > 0 {
		total := 0
		for _, a := range list {
			total += len(a)
		}
		buf := make([]byte, 0, total)
		atts = make([][]byte, len(list))
		for i, a := range list {
			start := len(buf)
			buf = append(buf, a...)
			atts[i] = buf[start:len(buf):len(buf)]
		}
	} else if bytes.Contains(argsMem, []byte(`"_placeholder"`)) {
		return nil, nil, false // a placeholder with no attachment to refer to
	}
	return args, atts, true
}

// sameArgs reports whether the guest's arguments and attachments are the
// bytes of the event's own (an echo or a relay): then they need neither
// validation nor a copy.
func sameArgs(argsMem, attsMem []byte, in *sio.Args) bool {
	if in == nil {
		return false
	}
	raw := in.RawList()
	if len(argsMem) < 2 || argsMem[0] != '[' || argsMem[len(argsMem)-1] != ']' {
		return false
	}
	rest := argsMem[1 : len(argsMem)-1]
	for i, a := range raw {
		if i > 0 {
			if len(rest) == 0 || rest[0] != ',' {
				return false
			}
			rest = rest[1:]
		}
		if len(rest) < len(a) || !bytes.Equal(rest[:len(a)], a) {
			return false
		}
		rest = rest[len(a):]
	}
	if len(rest) != 0 {
		return false
	}
	for _, a := range in.Attachments() {
		if len(attsMem) < 4+len(a) || binary.LittleEndian.Uint32(attsMem) != uint32(len(a)) || !bytes.Equal(attsMem[4:4+len(a)], a) {
			return false
		}
		attsMem = attsMem[4+len(a):]
	}
	return len(attsMem) == 0
}

// eventArgs returns the arguments of an emit or an ack: the event's own
// when the guest passes them on unchanged, else a validated copy.
func (cs *callState) eventArgs(argsMem, attsMem []byte) (args, atts [][]byte, ok bool) {
	if sameArgs(argsMem, attsMem, cs.in) {
		return cs.in.RawList(), cs.in.Attachments(), true
	}
	return parseArgs(argsMem, attsMem)
}

// hostModule defines the "sio" host module in rt.
func hostModule(ctx context.Context, rt wazero.Runtime) error {
	i32 := api.ValueTypeI32
	b := rt.NewHostModuleBuilder("sio")
	def := func(name string, fn api.GoModuleFunc, params, results int) {
		ps := make([]api.ValueType, params)
		for i := range ps {
			ps[i] = i32
		}
		rs := make([]api.ValueType, results)
		for i := range rs {
			rs[i] = i32
		}
		b.NewFunctionBuilder().WithGoModuleFunction(fn, ps, rs).Export(name)
	}
	def("emit", hostEmit, 9, 1)
	def("ack", hostAck, 4, 1)
	def("join", hostJoin, 2, 1)
	def("leave", hostLeave, 2, 1)
	def("disconnect", hostDisconnect, 1, 1)
	def("rooms", hostRooms, 2, 1)
	def("data_get", hostDataGet, 4, 1)
	def("data_set", hostDataSet, 4, 1)
	def("config", hostConfig, 2, 1)
	def("log", hostLog, 3, 0)
	def("refuse", hostRefuse, 4, 1)
	def("subscribe", hostSubscribe, 2, 1)
	_, err := b.Instantiate(ctx)
	return err
}

// hostFunctions lists the "sio" imports a guest may use.
var hostFunctions = map[string]bool{
	"emit": true, "ack": true, "join": true, "leave": true, "disconnect": true, "rooms": true,
	"data_get": true, "data_set": true, "config": true, "log": true, "refuse": true, "subscribe": true,
}

func hostEmit(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	target := api.DecodeI32(stack[0])
	rooms := read(cs, mod, stack[1], stack[2])
	event := read(cs, mod, stack[3], stack[4])
	args := read(cs, mod, stack[5], stack[6])
	atts := read(cs, mod, stack[7], stack[8])
	if cs.sock == nil {
		ret(stack, codeState)
		return
	}
	if target < targetSelf || target > targetNamespace || len(event) == 0 || !utf8.Valid(event) ||
		packet.IsReserved(string(event)) {
		ret(stack, codeInvalid)
		return
	}
	cs.count(in.v.p, len(rooms)+len(event)+len(args)+len(atts))
	roomList, ok := parseList(rooms)
	if !ok {
		ret(stack, codeInvalid)
		return
	}
	a, t, ok := cs.eventArgs(args, atts)
	if !ok {
		ret(stack, codeInvalid)
		return
	}
	e := effect{op: opEmit, target: target, event: string(event), args: a, atts: t}
	for _, r := range roomList {
		e.rooms = append(e.rooms, string(r))
	}
	cs.effs = append(cs.effs, e)
	ret(stack, codeOK)
}

func hostAck(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	args := read(cs, mod, stack[0], stack[1])
	atts := read(cs, mod, stack[2], stack[3])
	if cs.hook != kindEvent || !cs.ack || cs.acked {
		ret(stack, codeState)
		return
	}
	cs.count(in.v.p, len(args)+len(atts))
	a, t, ok := cs.eventArgs(args, atts)
	if !ok {
		ret(stack, codeInvalid)
		return
	}
	cs.acked = true
	cs.effs = append(cs.effs, effect{op: opAck, args: a, atts: t})
	ret(stack, codeOK)
}

func roomOp(op uint8) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		in := instanceOf(ctx)
		cs := &in.cs
		room := read(cs, mod, stack[0], stack[1])
		switch {
		case cs.sock == nil || cs.hook == kindDisconnect:
			ret(stack, codeState)
		case len(room) == 0 || !utf8.Valid(room):
			ret(stack, codeInvalid)
		default:
			cs.count(in.v.p, len(room))
			cs.effs = append(cs.effs, effect{op: op, room: string(room)})
			ret(stack, codeOK)
		}
	}
}

var (
	hostJoin  = roomOp(opJoin)
	hostLeave = roomOp(opLeave)
)

func hostDisconnect(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	if cs.sock == nil || cs.hook == kindDisconnect {
		ret(stack, codeState)
		return
	}
	cs.count(in.v.p, 0)
	cs.effs = append(cs.effs, effect{op: opDisconnect, close: api.DecodeI32(stack[0]) != 0})
	ret(stack, codeOK)
}

func hostRooms(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	if cs.sock == nil {
		ret(stack, codeState)
		return
	}
	s := cs.sock.s
	set := map[string]bool{s.ID(): cs.hook != kindDisconnect}
	for _, r := range s.Rooms() {
		set[r] = true
	}
	for _, e := range cs.effs {
		switch e.op {
		case opJoin:
			set[e.room] = true
		case opLeave:
			set[e.room] = false
		}
	}
	list := make([]string, 0, len(set))
	for r, member := range set {
		if member {
			list = append(list, r)
		}
	}
	sort.Strings(list)
	out, _ := json.Marshal(list)
	stack[0] = writeOut(cs, mod, stack[0], stack[1], out)
}

func hostDataGet(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	key := read(cs, mod, stack[0], stack[1])
	if cs.sock == nil {
		ret(stack, codeState)
		return
	}
	v, ok := cs.data[string(key)]
	if !ok {
		v, ok = cs.sock.data[string(key)]
	}
	if !ok || v == nil {
		ret(stack, codeNotFound)
		return
	}
	stack[0] = writeOut(cs, mod, stack[2], stack[3], v)
}

func hostDataSet(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	key := read(cs, mod, stack[0], stack[1])
	val := read(cs, mod, stack[2], stack[3])
	if cs.sock == nil {
		ret(stack, codeState)
		return
	}
	if len(key) == 0 {
		ret(stack, codeInvalid)
		return
	}
	k := string(key)
	old, ok := cs.data[k]
	if !ok {
		old, ok = cs.sock.data[k]
	}
	size := cs.dsize
	if ok && old != nil {
		size -= len(k) + len(old)
	}
	var v []byte
	if len(val) > 0 {
		size += len(k) + len(val)
		v = bytes.Clone(val)
	}
	if size > in.v.p.limits.DataBytes {
		ret(stack, codeLimit)
		return
	}
	if cs.data == nil {
		cs.data = map[string][]byte{}
	}
	cs.data[k] = v
	cs.dsize = size
	ret(stack, codeOK)
}

func hostConfig(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	stack[0] = writeOut(&in.cs, mod, stack[0], stack[1], in.v.p.conf)
}

const maxLogsPerCall = 100

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	level := api.DecodeI32(stack[0])
	msg := read(cs, mod, stack[1], stack[2])
	cs.logs++
	if cs.logs > maxLogsPerCall {
		in.v.p.stats.logsDropped.Add(1)
		return
	}
	if len(msg) > in.v.p.limits.LogBytes {
		msg = msg[:in.v.p.limits.LogBytes]
	}
	lvl := slog.LevelInfo
	switch {
	case level <= 0:
		lvl = slog.LevelDebug
	case level == 2:
		lvl = slog.LevelWarn
	case level >= 3:
		lvl = slog.LevelError
	}
	attrs := []any{"plugin", in.v.p.name, "hook", hookNames[cs.hook]}
	if cs.event != "" {
		attrs = append(attrs, "event", cs.event)
	}
	if cs.sock != nil {
		attrs = append(attrs, "socket", cs.sock.s.ID())
	}
	in.v.p.host.log.Log(ctx, lvl, string(msg), attrs...)
}

func hostRefuse(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	msg := read(cs, mod, stack[0], stack[1])
	data := read(cs, mod, stack[2], stack[3])
	if cs.hook != kindConnect {
		ret(stack, codeState)
		return
	}
	if len(data) > 0 && !json.Valid(data) || len(msg)+len(data) > 64<<10 {
		ret(stack, codeInvalid)
		return
	}
	cs.refuse = &refusal{message: string(msg), data: bytes.Clone(data)}
	ret(stack, codeOK)
}

func hostSubscribe(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceOf(ctx)
	cs := &in.cs
	name := read(cs, mod, stack[0], stack[1])
	if cs.hook != hookInit {
		ret(stack, codeState)
		return
	}
	if len(cs.subs) < 10000 {
		cs.subs = append(cs.subs, string(name))
	}
	ret(stack, codeOK)
}

// Input records.

func fieldsLen(fields ...[]byte) int {
	n := headerLen
	for _, f := range fields {
		n += 4 + len(f)
	}
	return n
}

func putHeader(b []byte, kind, flags uint32, ackID uint64) []byte {
	binary.LittleEndian.PutUint32(b, kind)
	binary.LittleEndian.PutUint32(b[4:], flags)
	binary.LittleEndian.PutUint64(b[8:], ackID)
	return b[headerLen:]
}

func putField(b, f []byte) []byte {
	binary.LittleEndian.PutUint32(b, uint32(len(f)))
	copy(b[4:], f)
	return b[4+len(f):]
}

// eventRecordLen returns the size of an event record.
func eventRecordLen(id, nsp, name string, args sio.Args) int {
	n := headerLen + 4 + len(id) + 4 + len(nsp) + 4 + len(name) + 4 + 2
	raw := args.RawList()
	for i, a := range raw {
		if i > 0 {
			n++
		}
		n += len(a)
	}
	for _, a := range args.Attachments() {
		n += 4 + len(a)
	}
	return n
}

// putEventRecord writes an event record into b (of eventRecordLen bytes).
func putEventRecord(b []byte, id, nsp, name string, args sio.Args, ack bool, ackID uint64) {
	var flags uint32
	if ack {
		flags = 1
	} else {
		ackID = 0
	}
	b = putHeader(b, kindEvent, flags, ackID)
	b = putField(b, []byte(id))
	b = putField(b, []byte(nsp))
	b = putField(b, []byte(name))
	raw := args.RawList()
	n := 2
	for i, a := range raw {
		if i > 0 {
			n++
		}
		n += len(a)
	}
	binary.LittleEndian.PutUint32(b, uint32(n))
	b = b[4:]
	b[0] = '['
	j := 1
	for i, a := range raw {
		if i > 0 {
			b[j] = ','
			j++
		}
		j += copy(b[j:], a)
	}
	b[j] = ']'
	b = b[j+1:]
	for _, a := range args.Attachments() {
		b = putField(b, a)
	}
}

// handshakeJSON encodes what a connect hook learns of the request.
func handshakeJSON(hs *sio.Handshake) []byte {
	auth := hs.Auth
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	}
	v := struct {
		Auth    json.RawMessage     `json:"auth"`
		Query   map[string][]string `json:"query"`
		Headers map[string][]string `json:"headers"`
		Address string              `json:"address"`
		URL     string              `json:"url"`
		Secure  bool                `json:"secure"`
		XDomain bool                `json:"xdomain"`
		Time    int64               `json:"time"`
	}{auth, hs.Query, hs.Headers, hs.Address, hs.URL, hs.Secure, hs.XDomain, hs.Time.UnixMilli()}
	if v.Query == nil {
		v.Query = map[string][]string{}
	}
	if v.Headers == nil {
		v.Headers = map[string][]string{}
	}
	out, err := json.Marshal(v)
	if err != nil { // auth is raw JSON from the packet decoder; be safe all the same
		v.Auth = json.RawMessage("{}")
		out, _ = json.Marshal(v)
	}
	return out
}
