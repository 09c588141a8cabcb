// Package sioclient is a sio.ClientTransport for Go programs compiled with
// GOOS=js GOARCH=wasm: the root package's client API (sio.NewManager,
// ClientSocket) over the browser's fetch and WebSocket, through the
// primitives of transport/wasm. It is the browser's counterpart of
// transport/nethttp's client; Dial mirrors nethttp.Dial.
//
// The root package brings its server half and encoding/json's reflection
// along: a program using it is about 1 MB larger (brotli: +150 KB) than one
// on transport/wasm's Manager, which cmd/sio-wasm uses.
//
// Everything but this documentation builds only for GOOS=js.
package sioclient
