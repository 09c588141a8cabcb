//go:build js && wasm

package main

import (
	"os"
	"strconv"
	"syscall/js"

	"github.com/sio-go/sio/transport/wasm"
)

var (
	global   = js.Global()
	jsObject = global.Get("Object")
	jsArray  = global.Get("Array")
	jsNull   = js.Null()
	jsUndef  = js.Undefined()

	// h holds the helpers of the loader (sio.mjs).
	h js.Value

	// handles maps the "_sio" property of the objects we made to their Go side.
	handles    = map[int]any{}
	nextHandle int
)

func main() {
	if len(os.Args) < 2 {
		global.Get("console").Call("error", "sio.wasm: start it with sio.mjs (load())")
		return
	}
	boot := global.Get(os.Args[1])
	if kind(boot) != js.TypeObject {
		global.Get("console").Call("error", "sio.wasm: no boot object; start it with sio.mjs (load())")
		return
	}
	h = boot.Get("helpers")
	if global.Get("SIO_DEBUG").Truthy() {
		console := global.Get("console")
		wasm.Trace = func(line string) { console.Call("debug", "sio: "+line) }
	}
	var api js.Value
	if err := wasm.Catch(func() { api = newAPI() }); err != nil {
		boot.Call("reject", err.(js.Error).Value)
		return
	}
	boot.Call("resolve", api)
	select {} // serve callbacks from JavaScript for ever
}

// typeError is a panic value that the method guard turns into a thrown TypeError.
type typeError string

// plainError is a panic value thrown as an Error.
type plainError string

// method returns a JavaScript function running fn with the guard: a panic
// never escapes to the Go runtime (it would end the program and every
// connection). A typeError or plainError becomes the matching exception, a
// JavaScript exception raised inside fn is thrown again as is, anything
// else is reported on the console and thrown as an Error.
func method(name string, fn func(this js.Value, args []js.Value) any) js.Value {
	return h.Call("wrap", js.FuncOf(func(this js.Value, args []js.Value) (ret any) {
		defer func() {
			if r := recover(); r != nil {
				ret = failValue(name, r)
			}
		}()
		return fn(this, args)
	}))
}

func failValue(name string, r any) js.Value {
	switch v := r.(type) {
	case typeError:
		return h.Call("fail", "TypeError", string(v))
	case plainError:
		return h.Call("fail", "Error", string(v))
	case js.Error:
		return h.Call("failWith", v.Value)
	}
	wasm.ReportPanic(name, r)
	msg := "internal error"
	if e, ok := r.(error); ok {
		msg += ": " + e.Error()
	} else if s, ok := r.(string); ok {
		msg += ": " + s
	}
	return h.Call("fail", "Error", "sio: "+name+": "+msg)
}

// guard is deferred in Go functions called from JavaScript outside of
// method (callbacks): it reports a panic instead of letting it end the program.
func guard(where string) {
	if r := recover(); r != nil {
		wasm.ReportPanic(where, r)
	}
}

// callback returns a JavaScript function, never released, for callbacks made
// by helpers.callback and helpers.once: fn gets the two numbers bound and the
// arguments array; what it returns (a Fail to throw) goes back to the caller.
func callback(where string, fn func(handle, id int, args js.Value) any) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (ret any) {
		defer guard(where)
		if len(args) < 3 {
			return nil
		}
		return fn(args[0].Int(), args[1].Int(), args[2])
	})
}

// newObject returns an object with proto as prototype and a hidden handle to v.
func newObject(proto js.Value, v any) (js.Value, int) {
	obj := jsObject.Call("create", proto)
	nextHandle++
	handles[nextHandle] = v
	desc := jsObject.New()
	desc.Set("value", nextHandle)
	jsObject.Call("defineProperty", obj, "_sio", desc)
	return obj, nextHandle
}

// self returns the Go side of this, or panics with a TypeError.
func self[T any](this js.Value, what, name string) T {
	if kind(this) == js.TypeObject {
		if hv := this.Get("_sio"); kind(hv) == js.TypeNumber {
			if v, ok := handles[hv.Int()].(T); ok {
				return v
			}
		}
	}
	panic(typeError("sio: " + name + " must be called on a " + what + " (got " + describe(this) + ")"))
}

// proto builds a prototype object with methods and getters.
type proto struct{ obj js.Value }

func newProto() proto { return proto{obj: jsObject.New()} }

func (p proto) method(name string, fn func(this js.Value, args []js.Value) any) {
	p.obj.Set(name, method(name, fn))
}

func (p proto) alias(name, of string) { p.obj.Set(name, p.obj.Get(of)) }

func (p proto) getter(name string, fn func(this js.Value) any) {
	desc := jsObject.New()
	desc.Set("get", method(name, func(this js.Value, _ []js.Value) any { return fn(this) }))
	desc.Set("configurable", true)
	jsObject.Call("defineProperty", p.obj, name, desc)
}

// typeBigInt stands for the JavaScript types syscall/js does not know (BigInt).
const typeBigInt js.Type = 100

// kind returns the type of v; js.Value.Type panics on a BigInt.
func kind(v js.Value) (t js.Type) {
	defer func() {
		if recover() != nil {
			t = typeBigInt
		}
	}()
	return v.Type()
}

// describe names the type of v for error messages.
func describe(v js.Value) string {
	switch kind(v) {
	case typeBigInt:
		return "bigint"
	case js.TypeUndefined:
		return "undefined"
	case js.TypeNull:
		return "null"
	case js.TypeBoolean:
		return "boolean"
	case js.TypeNumber:
		return "number"
	case js.TypeString:
		return "string"
	case js.TypeSymbol:
		return "symbol"
	case js.TypeFunction:
		return "function"
	}
	if jsArray.Call("isArray", v).Bool() {
		return "array"
	}
	if c := v.Get("constructor"); kind(c) == js.TypeFunction {
		if n := c.Get("name"); kind(n) == js.TypeString && n.String() != "" {
			return n.String()
		}
	}
	return "object"
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return jsUndef
}

func isNullish(v js.Value) bool { return kind(v) == js.TypeUndefined || kind(v) == js.TypeNull }

// isPlainObject reports an object that is not an array nor a function.
func isPlainObject(v js.Value) bool {
	return kind(v) == js.TypeObject && !jsArray.Call("isArray", v).Bool()
}

// array returns a JavaScript array of vs.
func array(vs []js.Value) js.Value {
	a := jsArray.New(len(vs))
	for i, v := range vs {
		a.SetIndex(i, v)
	}
	return a
}

func itoa(n int) string { return strconv.Itoa(n) }

// newAPI builds what load() resolves to.
func newAPI() js.Value {
	initManagerProto()
	initSocketProto()
	initCallbacks()

	ioFn := method("io", func(_ js.Value, args []js.Value) any { return lookup(args) })
	mgrFn := method("Manager", func(_ js.Value, args []js.Value) any { return newManagerFromJS(args) })
	ioFn.Set("io", ioFn)
	ioFn.Set("connect", ioFn)
	ioFn.Set("Manager", mgrFn)
	ioFn.Set("protocol", 5)

	api := jsObject.New()
	api.Set("io", ioFn)
	api.Set("connect", ioFn)
	api.Set("Manager", mgrFn)
	api.Set("protocol", 5)
	api.Set("default", ioFn)
	return api
}
