// Command sio-host runs a Socket.IO server that serves static files (the
// browser example by default) beside the Socket.IO endpoint.
//
// Event handlers are built in for now (chat with rooms, echo); loading them
// from WebAssembly plugins (-plugins DIR) comes with the plugin host.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	static := flag.String("static", "examples/browser", "directory served at / (empty: none)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv := sio.NewServer(&sio.ServerOptions{Logger: log})
	installHandlers(srv)

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", nethttp.NewHandler(srv, nil))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %d connections\n", srv.ConnCount())
	})
	if *static != "" {
		mux.Handle("/", http.FileServer(http.Dir(*static)))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("sio-host listening", "addr", "http://"+ln.Addr().String(), "static", *static)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// installHandlers sets up the example application: a chat with rooms and an echo.
func installHandlers(srv *sio.Server) {
	srv.OnConnection(func(s *sio.Socket) {
		s.Join("lobby")
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) {
			if ack != nil {
				_ = ack(args.Values()...)
				return
			}
			_ = s.Emit("echo", args.Values()...)
		})
		_ = s.On("join", func(room string, ack sio.Ack) {
			s.Join(room)
			_ = ack(s.Rooms())
		})
		_ = s.On("leave", func(room string, ack sio.Ack) {
			s.Leave(room)
			_ = ack(s.Rooms())
		})
		_ = s.On("chat", func(room, text string) {
			_ = srv.To(room).Emit("chat", map[string]any{"room": room, "from": s.ID(), "text": text})
		})
	})
}
