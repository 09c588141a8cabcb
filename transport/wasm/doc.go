// Package wasm is the browser driver of the sio client (GOOS=js GOARCH=wasm,
// syscall/js): it runs the engine's client state machines (eio.ClientSession
// and engine/client.Manager) on the browser's event loop, with HTTP
// long-polling over fetch, WebSocket (binaryType "arraybuffer"), the upgrade
// from polling to WebSocket, and timers from the browser's setTimeout.
//
// Everything happens in callbacks of the JavaScript event loop: the driver
// starts no goroutine, takes no lock and never blocks, so it may be called
// from js.FuncOf callbacks. Manager is the driver; Fetch, DialWebSocket and
// Timer are the I/O primitives it is built on, usable on their own.
//
// The package does not import net/http (nor the root sio package): the
// browser build of cmd/sio-wasm stays small. Go programs that want the root
// package's client API in a browser use transport/wasm/sioclient, a
// sio.ClientTransport on the same primitives.
//
// Everything but this documentation builds only for GOOS=js.
package wasm
