// Command contract-server is the shared contract server (see
// shared/contract/README.md) on sio: the behaviour interop tests, browser
// tests and benchmarks talk to.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/adapter/redisadapter"
	"github.com/sio-go/sio/engine/server"
	"github.com/sio-go/sio/transport/nethttp"
)

func envInt(name string, def int) int {
	raw := os.Getenv(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "invalid %s=%s\n", name, raw)
		os.Exit(2)
	}
	return n
}

func main() {
	port := envInt("PORT", 3000)
	if addr := os.Getenv("PPROF_ADDR"); addr != "" { // profiling, e.g. PPROF_ADDR=127.0.0.1:6060
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := &sio.ServerOptions{
		PingInterval:      time.Duration(envInt("PING_INTERVAL", 25000)) * time.Millisecond,
		PingTimeout:       time.Duration(envInt("PING_TIMEOUT", 20000)) * time.Millisecond,
		MaxHTTPBufferSize: envInt("MAX_PAYLOAD", 1_000_000),
		Logger:            logger,
	}
	if os.Getenv("RECOVERY") == "1" { // connection state recovery (in memory, this node)
		opts.ConnectionStateRecovery = &sio.ConnectionStateRecovery{MaxDisconnectionDuration: 120 * time.Second}
	}
	var adapter *redisadapter.Adapter
	if url := os.Getenv("REDIS_URL"); url != "" { // join a cluster (@socket.io/redis-adapter compatible)
		ropts, err := redis.ParseURL(url)
		if err != nil {
			fmt.Fprintf(os.Stderr, "invalid REDIS_URL=%s: %v\n", url, err)
			os.Exit(2)
		}
		adapter = redisadapter.New(redis.NewClient(ropts), &redisadapter.Options{Logger: logger})
		opts.Adapter = adapter
	}
	srv := sio.NewServer(opts)
	Setup(srv)
	if adapter != nil { // "listening" only once subscribed on Redis
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := adapter.Sync(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "startup failed: redis: %v\n", err)
			os.Exit(1)
		}
	}

	h := nethttp.NewHandler(srv, &nethttp.Options{CORS: &nethttp.CORS{AllowAll: true, Credentials: true}})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", h)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: nethttp.ReadHeaderTimeout, IdleTimeout: nethttp.IdleTimeout}
	fmt.Printf("listening on %s\n", ln.Addr().String())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Close()
		_ = hs.Shutdown(ctx)
		if adapter != nil {
			_ = adapter.Close()
		}
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var dynamic = regexp.MustCompile(`^/dyn-[0-9]+$`)

// Setup installs the contract's namespaces, middleware and events on srv.
func Setup(srv *sio.Server) {
	for _, nsp := range []*sio.Namespace{srv.Of("/"), srv.Of("/custom"), srv.OfRegexp(dynamic)} {
		nsp.Use(authMiddleware)
		nsp.OnConnection(onConnection)
	}
}

func authMiddleware(s *sio.Socket) error {
	var auth struct {
		Reject bool `json:"reject"`
	}
	_ = json.Unmarshal(s.Handshake().Auth, &auth)
	if auth.Reject {
		return &server.ConnectError{Message: "rejected", Data: []byte(`{"reason":"test"}`)}
	}
	return nil
}

func onConnection(s *sio.Socket) {
	nsp := s.Namespace()
	s.Join("all")

	s.On("echo", func(args sio.Args, ack sio.Ack) {
		if ack != nil {
			_ = ack(args.Values()...)
			return
		}
		_ = s.Emit("echo", args.Values()...)
	})
	s.On("broadcast", func(args sio.Args) {
		_ = nsp.Emit("broadcast", args.Values()...)
	})
	s.On("join", func(room string, ack sio.Ack) {
		s.Join(room)
		_ = ack(s.Rooms())
	})
	s.On("leave", func(room string, ack sio.Ack) {
		s.Leave(room)
		_ = ack(s.Rooms())
	})
	s.On("to-room", func(args sio.Args) {
		room, _ := args.String(0)
		_ = nsp.To(room).Emit("room", append([]any{room}, args.Values()[1:]...)...)
	})
	s.On("to-room-except-me", func(args sio.Args) {
		room, _ := args.String(0)
		_ = s.To(room).Emit("room", append([]any{room}, args.Values()[1:]...)...)
	})
	s.On("call-me", func(args sio.Args, ack sio.Ack) {
		event, _ := args.String(0)
		rest := []any{}
		if args.Len() > 1 {
			rest = args.Values()[1:]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reply, err := s.Timeout(5*time.Second).EmitWithAck(ctx, event, rest...)
		if ack == nil {
			return
		}
		if err != nil {
			_ = ack("timeout", nil)
			return
		}
		var first any // the client's first ack argument, binary included
		if reply.Len() > 0 {
			first = reply.Values()[0]
		}
		_ = ack(nil, first)
	})
	s.On("count", func(ack sio.Ack) {
		remote, err := nsp.FetchRemoteSockets(context.Background()) // none without REDIS_URL
		if err != nil {
			fmt.Fprintf(os.Stderr, "count: %v\n", err) // e.g. another node did not answer in time: no ack
			return
		}
		_ = ack(len(nsp.FetchSockets()) + len(remote))
	})
	s.On("disconnect-me", func() { s.Disconnect(true) })
	s.On("rooms-of", func(ack sio.Ack) { _ = ack(s.Rooms()) })

	// A struct keeps the reference's key order: id, nsp, auth.
	_ = s.Emit("hello", struct {
		ID   string          `json:"id"`
		Nsp  string          `json:"nsp"`
		Auth json.RawMessage `json:"auth"`
	}{s.ID(), nsp.Name(), s.Handshake().Auth})
}
