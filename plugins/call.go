package plugins

import (
	"errors"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"

	sio "github.com/sio-go/sio"
)

// ErrorKind classifies a failed plugin call.
type ErrorKind string

// Kinds of failures. After any of them but KindUnavailable and KindFailed
// the instance is thrown away.
const (
	KindTrap        ErrorKind = "trap"        // the guest trapped or exited (a Go panic exits)
	KindTimeout     ErrorKind = "timeout"     // the call deadline passed
	KindLimit       ErrorKind = "limit"       // memory cap, emit bytes or effects cap
	KindFailed      ErrorKind = "failed"      // the hook returned an error code
	KindUnavailable ErrorKind = "unavailable" // no instance: busy past AcquireTimeout, or instantiation failed
)

var errorKinds = [...]ErrorKind{KindTrap, KindTimeout, KindLimit, KindFailed, KindUnavailable}

// result is the outcome of one hook call.
type result struct {
	skipped bool  // the plugin has no such hook (or is closed): as declined, no call made
	code    int32 // the hook's return value
	effs    []effect
	data    map[string][]byte
	dsize   int
	refuse  *refusal
	err     error
	kind    ErrorKind
	output  string // the guest's last output, on failure
}

// invoke runs hook on an instance of the plugin's current code. size is
// the input record's length and fill writes it.
func (p *Plugin) invoke(hook int, st *sockState, event string, in *sio.Args, ack bool, size int, fill func([]byte)) result {
	start := time.Now()
	var res result
	for {
		v := p.cur.Load()
		if v == nil || v.hooks&hookMask(hook) == 0 {
			return result{skipped: true}
		}
		inst, err := v.acquire()
		if errors.Is(err, errRetired) {
			continue // swapped meanwhile: take the new code
		}
		if err != nil {
			res = result{err: err, kind: KindUnavailable}
			break
		}
		res = inst.run(hook, st, event, in, ack, size, fill)
		v.release(inst, (res.err == nil || res.kind == KindFailed) && !inst.doomed)
		break
	}
	p.stats.observe(hook, time.Since(start), &res)
	return res
}

func (in *instance) run(hook int, st *sockState, event string, args *sio.Args, ack bool, size int, fill func([]byte)) result {
	cs := &in.cs
	cs.reset(hook, st)
	cs.event, cs.ack, cs.in = event, ack, args
	ctx := in.call
	deadline := ctx.start(in.v.p.limits.CallTimeout)
	buf, ptr, err := in.input(ctx, size)
	if err == nil {
		fill(buf)
		in.stack[0], in.stack[1] = uint64(ptr), uint64(size)
		err = in.fns[hook].CallWithStack(ctx, in.stack[:])
	}
	if !ctx.stop(deadline) {
		in.doomed = true // the watchdog fired as the call returned: do not reuse
	}
	if err != nil {
		return in.failure(err)
	}
	res := result{effs: cs.effs, data: cs.data, dsize: cs.dsize, refuse: cs.refuse}
	if hook != kindDisconnect {
		res.code = int32(uint32(in.stack[0]))
	}
	cs.effs, cs.data, cs.refuse = nil, nil, nil
	if (hook == kindConnect || hook == kindEvent) && (res.code < 0 || res.code > 1) {
		return result{err: errors.New("hook returned an error code"), kind: KindFailed, code: res.code}
	}
	return res
}

func (in *instance) failure(err error) result {
	res := result{err: err, output: in.out.String()}
	var exit *sys.ExitError
	switch {
	case in.cs.fault != nil:
		res.err = in.cs.fault
		res.kind = KindLimit
		if errors.Is(in.cs.fault, errBadMemory) {
			res.kind = KindTrap
		}
	case errors.As(err, &exit) && (exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled):
		res.kind = KindTimeout
		res.err = errors.New("call deadline (" + in.v.p.limits.CallTimeout.String() + ") exceeded")
	case in.nearMemoryCap() || strings.Contains(res.output, "out of memory"):
		res.kind = KindLimit
		res.err = errors.New("memory cap reached: " + err.Error())
	default:
		res.kind = KindTrap
	}
	in.cs.effs, in.cs.data = nil, nil
	return res
}

// nearMemoryCap reports whether the instance's memory is within 1/8 of
// its cap (a failed memory.grow traps a Go guest or makes it exit).
func (in *instance) nearMemoryCap() bool {
	limit := uint64(in.v.p.limits.Memory)
	return uint64(in.mem.Size()) >= limit-limit/8
}
