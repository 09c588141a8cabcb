// Package guest is the Go SDK for sio plugins: server-side Socket.IO
// handlers compiled to WebAssembly and run, sandboxed, by package plugins
// (sio-host). It implements the ABI of plugins/ABI.md, so that a plugin
// reads like ordinary Go:
//
//	package main
//
//	import sio "github.com/sio-go/sio/plugins/guest"
//
//	func init() {
//		sio.On("chat", func(s sio.Socket, args sio.Args) {
//			s.To("lobby").Emit("chat", args.Raw())
//		})
//	}
//
//	func main() {}
//
// Build it as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o chat.wasm .
//
// Register handlers from init functions: the host runs the module's
// initialisation, never main. Handlers run one at a time per instance; the
// host keeps several instances and any of them may serve any socket, so
// keep per-socket state with Socket.SetData (stored by the host), not in
// globals. Socket methods queue effects that the host applies after the
// handler returns; if the handler panics, loops past the deadline or
// breaks a limit, its effects are dropped and its instance discarded.
//
// Goroutines started by a handler run only while some hook is running;
// call Socket methods from the handler's own goroutine.
//
// The SDK avoids encoding/json (which would add 1.4 MB to every plugin):
// Args gives arguments as raw JSON with helpers for strings, numbers and
// binary; use encoding/json yourself when you need more.
//
// Outside GOOS=wasip1 the host functions are served by FakeHost, so a
// plugin's handlers can be unit-tested with plain go test (see Init and
// DispatchEvent).
package guest
