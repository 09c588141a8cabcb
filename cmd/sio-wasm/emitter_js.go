//go:build js && wasm

package main

import "syscall/js"

// emitter holds the listeners of an object, as component-emitter (the
// reference client's base class) does.
type emitter struct {
	ls map[string][]listener
}

type listener struct {
	fn   js.Value
	once bool
}

func (e *emitter) add(ev string, fn js.Value, once bool) {
	if e.ls == nil {
		e.ls = map[string][]listener{}
	}
	e.ls[ev] = append(e.ls[ev], listener{fn: fn, once: once})
}

// remove removes the first listener fn of ev; every listener of ev when fn
// is undefined.
func (e *emitter) remove(ev string, fn js.Value) {
	if kind(fn) == js.TypeUndefined {
		delete(e.ls, ev)
		return
	}
	ls := e.ls[ev]
	for i, l := range ls {
		if l.fn.Equal(fn) {
			e.ls[ev] = append(ls[:i:i], ls[i+1:]...)
			break
		}
	}
	if len(e.ls[ev]) == 0 {
		delete(e.ls, ev)
	}
}

// take returns the listeners to call for ev, removing the once ones; ok is
// false when there are none.
func (e *emitter) take(ev string) (js.Value, bool) {
	ls := e.ls[ev]
	if len(ls) == 0 {
		return jsNull, false
	}
	fns := make([]js.Value, len(ls))
	kept := ls[:0:0]
	for i, l := range ls {
		fns[i] = l.fn
		if !l.once {
			kept = append(kept, l)
		}
	}
	if len(kept) != len(ls) {
		if len(kept) == 0 {
			delete(e.ls, ev)
		} else {
			e.ls[ev] = kept
		}
	}
	return array(fns), true
}

// emit calls the listeners of ev with args, this being self.
func (e *emitter) emit(self js.Value, ev string, args ...js.Value) {
	if fns, ok := e.take(ev); ok {
		h.Call("call", fns, self, array(args))
	}
}

func (e *emitter) listeners(ev string) js.Value {
	ls := e.ls[ev]
	fns := make([]js.Value, len(ls))
	for i, l := range ls {
		fns[i] = l.fn
	}
	return array(fns)
}

// hasEmitter is an object of ours with listeners.
type hasEmitter interface {
	emitterOf() *emitter
}

// addEmitterMethods adds on, once, off and their aliases to p, for objects
// whose Go side is a T.
func addEmitterMethods[T hasEmitter](p proto, what string) {
	eventAndFn := func(name string, args []js.Value, needFn bool) (string, js.Value) {
		ev, fn := arg(args, 0), arg(args, 1)
		if kind(ev) != js.TypeString {
			panic(typeError("sio: " + what + "." + name + "(event, listener): event must be a string, got " + describe(ev)))
		}
		if (needFn || kind(fn) != js.TypeUndefined) && kind(fn) != js.TypeFunction {
			panic(typeError("sio: " + what + "." + name + "(event, listener): listener must be a function, got " + describe(fn)))
		}
		return ev.String(), fn
	}
	p.method("on", func(this js.Value, args []js.Value) any {
		e := self[T](this, what, what+".on").emitterOf()
		ev, fn := eventAndFn("on", args, true)
		e.add(ev, fn, false)
		return this
	})
	p.alias("addEventListener", "on")
	p.method("once", func(this js.Value, args []js.Value) any {
		e := self[T](this, what, what+".once").emitterOf()
		ev, fn := eventAndFn("once", args, true)
		e.add(ev, fn, true)
		return this
	})
	p.method("off", func(this js.Value, args []js.Value) any {
		e := self[T](this, what, what+".off").emitterOf()
		if len(args) == 0 || kind(args[0]) == js.TypeUndefined {
			e.ls = nil
			return this
		}
		ev, fn := eventAndFn("off", args, false)
		e.remove(ev, fn)
		return this
	})
	p.alias("removeListener", "off")
	p.alias("removeAllListeners", "off")
	p.alias("removeEventListener", "off")
	p.method("listeners", func(this js.Value, args []js.Value) any {
		e := self[T](this, what, what+".listeners").emitterOf()
		ev, _ := eventAndFn("listeners", args[:min(len(args), 1)], false)
		return e.listeners(ev)
	})
	p.method("hasListeners", func(this js.Value, args []js.Value) any {
		e := self[T](this, what, what+".hasListeners").emitterOf()
		ev, _ := eventAndFn("hasListeners", args[:min(len(args), 1)], false)
		return len(e.ls[ev]) > 0
	})
}
