// Command engineio is the server the official Engine.IO protocol test suite
// (socketio/engine.io-protocol, folder test-suite/) talks to: a plain
// Engine.IO echo server at /engine.io/ (every message is sent back as it
// came, text or binary), heartbeat 300/200 ms, maxPayload 1e6, any origin.
// It listens on localhost:$PORT (default 3000), both 127.0.0.1 and [::1].
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	if err := listenLoopback(port, newHandler(300*time.Millisecond, 200*time.Millisecond)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// newHandler returns the echo server with the given heartbeat (the suite
// expects 300 ms and 200 ms).
func newHandler(pingInterval, pingTimeout time.Duration) http.Handler {
	srv := sio.NewEngineServer(&sio.ServerOptions{
		PingInterval:      pingInterval,
		PingTimeout:       pingTimeout,
		MaxHTTPBufferSize: 1_000_000,
	})
	srv.OnConnection(func(s *sio.EngineSocket) {
		s.OnMessage(func(data []byte, binary bool) { _ = s.Send(data, binary) })
	})
	return nethttp.NewHandler(srv, &nethttp.Options{Path: "/engine.io/", CORS: &nethttp.CORS{Origins: []string{"*"}}})
}

// listenLoopback serves h on 127.0.0.1 and, when available, [::1]: the test
// suite dials "localhost", which Node may resolve to either.
func listenLoopback(port string, h http.Handler) error {
	ln4, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	if ln6, err := net.Listen("tcp", "[::1]:"+port); err == nil {
		go func() { errs <- http.Serve(ln6, h) }()
	}
	fmt.Println("listening on " + ln4.Addr().String())
	go func() { errs <- http.Serve(ln4, h) }()
	return <-errs
}
