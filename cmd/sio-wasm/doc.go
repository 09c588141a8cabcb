// Command sio-wasm will build the browser client (sio.wasm, GOOS=js) with a
// socket.io-client-shaped JavaScript API. Not implemented yet.
package main

func main() {}
