// Plugin echo answers "echo" as the contract server does: with an ack, it
// acks with the same arguments; without, it emits "echo" back with them.
// Binary arguments come back as binary.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm ./examples/plugins/echo
package main

import sio "github.com/sio-go/sio/plugins/guest"

func init() {
	sio.On("echo", func(s sio.Socket, args sio.Args) {
		if s.AckRequested() {
			_ = s.Ack(args.Raw())
			return
		}
		_ = s.Emit("echo", args.Raw())
	})
}

func main() {}
