// Command sio-wasm is the browser client of sio: built with GOOS=js
// GOARCH=wasm it is sio.wasm, which the loader sio.mjs starts to give a
// JavaScript API shaped like socket.io-client's (io(url, options), sockets
// with on/emit/emitWithAck/timeout/volatile, managers with the reconnection
// events). Its TypeScript declarations are in sio.d.mts.
//
// Built for any other platform, the command is the build tool: it compiles
// sio.wasm and writes it, sio.mjs, sio.d.mts and the toolchain's
// wasm_exec.js to a directory, and prints the sizes:
//
//	go run ./cmd/sio-wasm -o examples/browser/sio
//
// See examples/browser for a page that uses it.
package main
