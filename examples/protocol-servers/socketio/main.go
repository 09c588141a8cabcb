// Command socketio is the server the official Socket.IO protocol test suite
// (socketio/socket.io-protocol, folder test-suite/) talks to: main and
// /custom namespaces echoing the auth payload, "message" answered with
// "message-back", "message-with-ack" acked with its arguments; heartbeat
// 300/200 ms, connect timeout 1 s, any origin. It listens on
// 127.0.0.1:$PORT (default 3000), path /socket.io/.
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
	h := newHandler()
	if err := listenLoopback(port, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// newHandler returns the test suite's server.
func newHandler() http.Handler {
	srv := sio.NewServer(&sio.ServerOptions{
		PingInterval:      300 * time.Millisecond,
		PingTimeout:       200 * time.Millisecond,
		ConnectTimeout:    time.Second,
		MaxHTTPBufferSize: 1_000_000,
	})
	srv.OnConnection(func(s *sio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		_ = s.On("message", func(args sio.Args) {
			_ = s.Emit("message-back", args.Values()...)
		})
		_ = s.On("message-with-ack", func(args sio.Args, ack sio.Ack) {
			if ack != nil {
				_ = ack(args.Values()...)
			}
		})
	})
	srv.Of("/custom").OnConnection(func(s *sio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
	})
	return nethttp.NewHandler(srv, &nethttp.Options{CORS: &nethttp.CORS{Origins: []string{"*"}}})
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
