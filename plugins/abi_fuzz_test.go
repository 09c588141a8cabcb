package plugins

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/eio"
)

// The fuzz targets of this file feed the host functions what a hostile
// guest could pass them: arbitrary bytes in its memory and arbitrary
// pointers and lengths, through the very functions wazero calls (the guest
// module is instantiated once, outside the fuzz loop).

// memOnlyWasm is (module (memory (export "memory") 1)).
var memOnlyWasm = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
	0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, min 1 page
	0x07, 0x0a, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, // export "memory"
}

// abiRig is one guest memory, one live socket and one instance whose
// host functions are called directly.
type abiRig struct {
	mod  api.Module
	in   *instance
	sock *sockState
	args sio.Args // the current event's arguments, for the pass-through path
}

var (
	rigOnce sync.Once
	rig     *abiRig
	rigErr  error
)

func newABIRig() (*abiRig, error) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	mod, err := rt.Instantiate(ctx, memOnlyWasm)
	if err != nil {
		return nil, err
	}
	// A real socket, connected over an in-memory polling session.
	srv := sio.NewServer(&sio.ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	got := make(chan *sio.Socket, 1)
	srv.OnConnection(func(s *sio.Socket) { s.Join("room"); got <- s })
	c, err := srv.Accept(eio.Polling, sio.Handshake{})
	if err != nil {
		return nil, err
	}
	if err := c.PostStart(); err != nil {
		return nil, err
	}
	if err := c.Post([]byte("40")); err != nil {
		return nil, err
	}
	var s *sio.Socket
	select {
	case s = <-got:
	case <-time.After(5 * time.Second):
		return nil, errors.New("no socket")
	}
	h := &Host{log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})), limits: DefaultLimits}
	p := &Plugin{host: h, name: "fuzz", conf: json.RawMessage(`{"k":1}`), limits: DefaultLimits}
	in := &instance{v: &version{p: p}, mod: mod, mem: mod.Memory()}
	in.ctx = context.WithValue(ctx, instKey{}, in)
	args := sio.NewArgs([][]byte{[]byte(`"a"`), []byte(`{"_placeholder":true,"num":0}`)}, [][]byte{{1, 2, 3}})
	return &abiRig{mod: mod, in: in, sock: &sockState{p: p, s: s, data: map[string][]byte{"k": []byte("v")}, dataSize: 2}, args: args}, nil
}

// hostFuncs are the host functions in the order a fuzz call byte picks them.
var hostFuncs = []struct {
	name   string
	fn     api.GoModuleFunc
	params int
}{
	{"emit", hostEmit, 9}, {"ack", hostAck, 4}, {"join", hostJoin, 2}, {"leave", hostLeave, 2},
	{"disconnect", hostDisconnect, 1}, {"rooms", hostRooms, 2}, {"data_get", hostDataGet, 4},
	{"data_set", hostDataSet, 4}, {"config", hostConfig, 2}, {"log", hostLog, 3},
	{"refuse", hostRefuse, 4}, {"subscribe", hostSubscribe, 2},
}

// callRecordLen is the size of one call in the fuzz input: function, hook,
// flags, then nine u32 parameters.
const callRecordLen = 3 + 9*4

// hostCall runs fn as wazero would and returns the guest-caused abort it
// ended with, if any; any other panic is a bug and propagates.
func hostCall(r *abiRig, fn api.GoModuleFunc, stack []uint64) (fault error) {
	defer func() {
		if v := recover(); v != nil {
			err, ok := v.(error)
			if !ok || r.in.cs.fault == nil || !errors.Is(err, r.in.cs.fault) {
				panic(v)
			}
			fault = err
		}
	}()
	fn(r.in.ctx, r.mod, stack)
	return nil
}

// listLen is the size of fields encoded as a list.
func listLen(fields [][]byte) int {
	n := 0
	for _, f := range fields {
		n += 4 + len(f)
	}
	return n
}

func cloneEffects(effs []effect) []effect {
	out := make([]effect, len(effs))
	for i, e := range effs {
		out[i] = e
		out[i].args = make([][]byte, len(e.args))
		for j, a := range e.args {
			out[i].args[j] = bytes.Clone(a)
		}
		out[i].atts = make([][]byte, len(e.atts))
		for j, a := range e.atts {
			out[i].atts[j] = bytes.Clone(a)
		}
	}
	return out
}

func sameEffects(a, b []effect) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.op != y.op || x.target != y.target || x.close != y.close || x.room != y.room || x.event != y.event ||
			len(x.rooms) != len(y.rooms) || len(x.args) != len(y.args) || len(x.atts) != len(y.atts) {
			return false
		}
		for j := range x.args {
			if !bytes.Equal(x.args[j], y.args[j]) {
				return false
			}
		}
		for j := range x.atts {
			if !bytes.Equal(x.atts[j], y.atts[j]) {
				return false
			}
		}
	}
	return true
}

// FuzzHostCalls places mem at the start of the guest's memory and runs the
// host function calls encoded in calls. Host functions must never panic
// but to abort the call for a guest fault (a bad pointer, a breached cap),
// must accept only valid arguments (JSON arrays of valid JSON values, UTF-8
// event names and rooms), and must copy what they keep: the recorded
// effects may not change when the guest rewrites its memory afterwards.
func FuzzHostCalls(f *testing.F) {
	rec := func(fn, hook, flags byte, params ...uint32) []byte {
		b := []byte{fn, hook, flags}
		for i := 0; i < 9; i++ {
			var v uint32
			if i < len(params) {
				v = params[i]
			}
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	list := func(fields ...string) []byte {
		var b []byte
		for _, s := range fields {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		return b
	}
	// mem: [0,16) "chat", [16,48) args, [64,...) attachment list, [128,...) rooms list.
	mem := make([]byte, 256)
	copy(mem, "chat")
	args := `["hi",{"_placeholder":true,"num":0}]`
	copy(mem[16:], args)
	atts := list("\x01\x02")
	copy(mem[64:], atts)
	rooms := list("a", "b")
	copy(mem[128:], rooms)
	al, tl, rl := uint32(len(args)), uint32(len(atts)), uint32(len(rooms))
	f.Add(mem, rec(0, kindEvent, 0, targetBroadcast, 128, rl, 0, 4, 16, al, 64, tl))
	f.Add(mem, rec(1, kindEvent, 1, 16, al, 64, tl))
	f.Add(mem, append(rec(2, kindEvent, 0, 0, 4), rec(5, kindEvent, 0, 200, 50)...))
	f.Add(mem, append(rec(7, kindConnect, 0, 0, 4, 16, 4), rec(6, kindConnect, 0, 0, 4, 200, 50)...))
	f.Add(mem, rec(10, kindConnect, 0, 0, 4, 16, al))
	f.Add(mem, rec(9, kindEvent, 0, 1, 0, 200))
	f.Add(mem, rec(11, hookInit, 0, 0, 4))
	f.Add(mem, rec(8, hookInit, 0, 0, 100))
	f.Add(mem, rec(4, kindEvent, 0, 1))
	// Pointers and lengths out of memory (flag 1: taken as they are).
	f.Add(mem, rec(0, kindEvent, 0x80, targetSelf, 0, 0, 65530, 100, 0, 0, 0, 0))
	f.Add(mem, rec(1, kindEvent, 0x81, 0xffffffff, 2, 0, 0))
	f.Add(mem, rec(7, kindEvent, 0x80, 0, 4, 65535, 0xffffffff))
	// Echo of the event's own arguments (the pass-through path).
	echo := make([]byte, 64)
	n := copy(echo, `["a",{"_placeholder":true,"num":0}]`)
	m := copy(echo[48:], list("\x01\x02\x03"))
	f.Add(echo, rec(1, kindEvent, 1, 0, uint32(n), 48, uint32(m)))

	f.Fuzz(func(t *testing.T, mem, calls []byte) {
		rigOnce.Do(func() { rig, rigErr = newABIRig() })
		if rigErr != nil {
			t.Fatal(rigErr)
		}
		r := rig
		size := r.mod.Memory().Size()
		if len(mem) > 4096 {
			mem = mem[:4096]
		}
		if len(calls) > 64*callRecordLen {
			calls = calls[:64*callRecordLen]
		}
		zero := make([]byte, 4096)
		r.mod.Memory().Write(0, zero)
		r.mod.Memory().Write(0, mem)
		cs := &r.in.cs
		for ; len(calls) >= callRecordLen; calls = calls[callRecordLen:] {
			hf := hostFuncs[int(calls[0])%len(hostFuncs)]
			hook := int(calls[1]) % len(hookNames)
			flags := calls[2]
			var st *sockState
			if hook != hookInit {
				st = r.sock
			}
			cs.reset(hook, st)
			cs.ack = flags&1 != 0
			if hook == kindEvent {
				cs.event, cs.in = "chat", &r.args
			}
			var stack [9]uint64
			for i := range stack {
				v := binary.LittleEndian.Uint32(calls[3+4*i:])
				if flags&0x80 == 0 && i > 0 {
					v %= size + 64 // mostly in range, sometimes just past the end
				}
				// The high half of a stack slot is undefined for i32s.
				stack[i] = uint64(v) | uint64(flags)<<40
			}
			if fault := hostCall(r, hf.fn, stack[:hf.params]); fault != nil {
				if !errors.Is(fault, errBadMemory) && !errors.Is(fault, errEmitLimit) && !errors.Is(fault, errEffectsLimit) {
					t.Fatalf("%s: unexpected abort %v", hf.name, fault)
				}
				continue
			}
			code := api.DecodeI32(stack[0])
			// A list fills its range exactly: nothing read past it.
			if n := len(cs.effs); code == codeOK && n > 0 && cs.effs[n-1].op == opEmit && hf.name == "emit" {
				e := cs.effs[n-1]
				rooms := make([][]byte, len(e.rooms))
				for i, r := range e.rooms {
					rooms[i] = []byte(r)
				}
				if listLen(rooms) != int(uint32(stack[2])) || listLen(e.atts) != int(uint32(stack[8])) {
					t.Fatalf("emit: rooms or attachments read past their range")
				}
			}
			if code < codeLimit && hf.name != "log" {
				t.Fatalf("%s returned %d", hf.name, code)
			}
			for _, e := range cs.effs {
				switch e.op {
				case opEmit, opAck:
					for _, a := range e.args {
						if !json.Valid(a) {
							t.Fatalf("%s queued the invalid argument %q", hf.name, a)
						}
					}
				case opJoin, opLeave:
					if e.room == "" {
						t.Fatalf("%s queued an empty room", hf.name)
					}
				}
			}
			if cs.refuse != nil && len(cs.refuse.data) > 0 && !json.Valid(cs.refuse.data) {
				t.Fatalf("refuse kept invalid JSON %q", cs.refuse.data)
			}
			if len(cs.effs) == 0 && len(cs.data) == 0 && cs.refuse == nil {
				continue
			}
			// The guest rewrites its memory: nothing the host kept may change.
			before := cloneEffects(cs.effs)
			var data map[string][]byte
			for k, v := range cs.data {
				if data == nil {
					data = map[string][]byte{}
				}
				data[k] = bytes.Clone(v)
			}
			var refused []byte
			if cs.refuse != nil {
				refused = bytes.Clone(cs.refuse.data)
			}
			scribble := bytes.Repeat([]byte{0xa5}, 4096)
			r.mod.Memory().Write(0, scribble)
			if !sameEffects(before, cs.effs) {
				t.Fatalf("%s: queued effects alias guest memory", hf.name)
			}
			for k, v := range cs.data {
				if !bytes.Equal(v, data[k]) {
					t.Fatalf("data_set kept a view of guest memory")
				}
			}
			if cs.refuse != nil && !bytes.Equal(refused, cs.refuse.data) {
				t.Fatalf("refuse kept a view of guest memory")
			}
			r.mod.Memory().Write(0, zero)
			r.mod.Memory().Write(0, mem)
		}
	})
}

// FuzzParseArgs checks the validation of the arguments and attachment
// list a guest passes to emit and ack.
func FuzzParseArgs(f *testing.F) {
	list := func(fields ...string) []byte {
		var b []byte
		for _, s := range fields {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		return b
	}
	f.Add([]byte(`["hi",1,{"a":[true,null]}]`), []byte(nil))
	f.Add([]byte(`[{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]`), list("\x01", "\x02\x03"))
	f.Add([]byte(`[{"_placeholder":true,"num":0}]`), []byte(nil))
	f.Add([]byte(`[]`), list(""))
	f.Add([]byte(`{"a":1}`), []byte{1, 0, 0})
	f.Add([]byte(`[1,`), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, argsMem, attsMem []byte) {
		// Exact capacities: reading past the given bytes panics.
		argsMem, attsMem = argsMem[:len(argsMem):len(argsMem)], attsMem[:len(attsMem):len(attsMem)]
		args, atts, ok := parseArgs(argsMem, attsMem)
		fields, listOK := parseList(attsMem)
		if !ok {
			return
		}
		if !listOK || len(fields) != len(atts) || listLen(fields) != len(attsMem) {
			t.Fatalf("accepted a malformed attachment list %x", attsMem)
		}
		if len(argsMem) > 0 && (len(argsMem) < 2 || argsMem[0] != '[') && !bytes.HasPrefix(bytes.TrimSpace(argsMem), []byte("[")) {
			t.Fatalf("accepted arguments that are not an array: %q", argsMem)
		}
		for _, a := range args {
			if !json.Valid(a) {
				t.Fatalf("accepted the invalid argument %q", a)
			}
		}
		for i := range atts {
			if !bytes.Equal(atts[i], fields[i]) {
				t.Fatalf("attachment %d: %x, want %x", i, atts[i], fields[i])
			}
		}
		// Copies: rewriting the guest's bytes changes nothing.
		saved := cloneEffects([]effect{{args: args, atts: atts}})
		for i := range argsMem {
			argsMem[i] = '!'
		}
		for i := range attsMem {
			attsMem[i] = 0xee
		}
		if !sameEffects(saved, []effect{{args: args, atts: atts}}) {
			t.Fatal("parseArgs returned views of guest memory")
		}
	})
}
