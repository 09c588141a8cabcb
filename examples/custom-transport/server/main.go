// Command server is the server of the custom-transport example: Socket.IO
// over plain TCP with length-prefixed frames, driving only the sans-IO engine.
//
//	PORT=4000 go run ./examples/custom-transport/server
package main

import (
	"log"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/sio-go/sio/examples/custom-transport/demo"
	"github.com/sio-go/sio/examples/custom-transport/tcpframe"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "4000"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		log.Fatal(err)
	}

	srv := tcpframe.NewServer(tcpframe.ServerOptions{})
	demo.Setup(srv)
	nsp := srv.Of("/")
	nsp.OnConnect = func(s *tcpframe.Socket) {
		log.Printf("connect %s from %s, auth %s", s.ID(), s.RemoteAddr(), s.Auth())
	}
	nsp.OnDisconnect = func(s *tcpframe.Socket, reason string, err error) {
		if err != nil {
			reason += ": " + err.Error()
		}
		log.Printf("disconnect %s: %s", s.ID(), reason)
	}

	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		srv.Close(2 * time.Second)
	}()

	log.SetFlags(0)
	os.Stdout.WriteString("listening on " + ln.Addr().String() + "\n")
	if err := srv.Serve(ln); err != tcpframe.ErrServerClosed {
		log.Fatal(err)
	}
}
