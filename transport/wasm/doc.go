// Package wasm will hold the browser driver of the sio client (GOOS=js,
// syscall/js): WebSocket and fetch-based long-polling feeding the engine's
// client state machines. Not implemented yet; see the project issues.
package wasm
