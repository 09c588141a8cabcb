package sio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/transport/nethttp"
)

// fakeAdapter records what a server hands to the cluster and lets the test
// play the other nodes.
type fakeAdapter struct {
	mu     sync.Mutex
	calls  []string
	locals map[string]*sio.LocalNamespace
	// ack simulation: remote nodes answering a broadcast with acks
	remoteCounts []int
	servers      int
}

func (f *fakeAdapter) Attach(l *sio.LocalNamespace) sio.NamespaceAdapter {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.locals == nil {
		f.locals = map[string]*sio.LocalNamespace{}
	}
	f.locals[l.Name()] = l
	return &fakeNsp{f: f, name: l.Name()}
}

func (f *fakeAdapter) record(format string, args ...any) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeAdapter) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

type fakeNsp struct {
	f    *fakeAdapter
	name string
}

func argsText(a sio.Args) string {
	var parts []string
	for i := 0; i < a.Len(); i++ {
		parts = append(parts, string(a.Raw(i)))
	}
	return strings.Join(parts, ",")
}

func (n *fakeNsp) Broadcast(event string, args sio.Args, o sio.AdapterOptions) error {
	n.f.record("broadcast %s %s %s rooms=%v except=%v volatile=%v", n.name, event, argsText(args), o.Rooms, o.Except, o.Volatile)
	return nil
}

func (n *fakeNsp) BroadcastWithAck(event string, args sio.Args, o sio.AdapterOptions, onCount func(int), onAck func(sio.Args)) error {
	n.f.record("broadcastWithAck %s %s", n.name, event)
	n.f.mu.Lock()
	counts := n.f.remoteCounts
	n.f.mu.Unlock()
	go func() {
		for i, c := range counts {
			for j := 0; j < c; j++ {
				onAck(sio.NewArgs([][]byte{[]byte(fmt.Sprintf(`"remote %d.%d"`, i, j))}, nil))
			}
			onCount(c) // answers may come before the count
		}
	}()
	return nil
}

func (n *fakeNsp) AddSockets(o sio.AdapterOptions, rooms []string) error {
	n.f.record("addSockets %s rooms=%v except=%v %v", n.name, o.Rooms, o.Except, rooms)
	return nil
}

func (n *fakeNsp) DelSockets(o sio.AdapterOptions, rooms []string) error {
	n.f.record("delSockets %s rooms=%v %v", n.name, o.Rooms, rooms)
	return nil
}

func (n *fakeNsp) DisconnectSockets(o sio.AdapterOptions, close bool) error {
	n.f.record("disconnectSockets %s rooms=%v %v", n.name, o.Rooms, close)
	return nil
}

func (n *fakeNsp) FetchSockets(ctx context.Context, o sio.AdapterOptions) ([]sio.SocketInfo, error) {
	return []sio.SocketInfo{{ID: "remote1", Rooms: []string{"remote1", "x"}, Data: []byte(`{"a":1}`)}}, nil
}

func (n *fakeNsp) ServerSideEmit(ctx context.Context, event string, args sio.Args, withAck bool) ([]sio.Args, error) {
	n.f.record("serverSideEmit %s %s %s ack=%v", n.name, event, argsText(args), withAck)
	return nil, nil
}

func (n *fakeNsp) ServerCount(ctx context.Context) (int, error) {
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	return n.f.servers, nil
}

func (n *fakeNsp) Close() error { n.f.record("close %s", n.name); return nil }

func TestAdapterBoundary(t *testing.T) {
	fa := &fakeAdapter{servers: 3, remoteCounts: []int{2, 0}}
	srv := sio.NewServer(&sio.ServerOptions{Adapter: fa})
	got := make(chan string, 16)
	srv.OnConnection(func(s *sio.Socket) {
		s.Join("red")
		s.SetData(map[string]int{"n": 1})
	})
	hs := httptest.NewServer(nethttp.NewHandler(srv, nil))
	defer hs.Close()
	c, err := nethttp.Dial(hs.URL, &sio.ClientOptions{Transports: []string{"websocket"}}, nil)
	require.NoError(t, err)
	defer c.Manager().Close()
	c.OnAny(func(event string, args sio.Args) {
		if event != "poll" {
			got <- event + " " + argsText(args)
		}
	})
	_ = c.On("poll", func(ack sio.Ack) { _ = ack("local") })
	c.Connect()
	require.Eventually(t, func() bool { return len(srv.To("red").FetchSockets()) == 1 }, 5*time.Second, 5*time.Millisecond)
	fa.take()

	// Local delivery, then the cluster, with the selection.
	require.NoError(t, srv.To("red").Except("blue").Emit("ev", 1))
	assert.Equal(t, "ev 1", <-got)
	require.NoError(t, srv.Of("/").Local().Emit("ev", 2))
	assert.Equal(t, "ev 2", <-got)
	require.NoError(t, srv.Of("/").Volatile().Emit("ev", 3))
	assert.Equal(t, "ev 3", <-got)
	srv.In("red").SocketsJoin("green")
	srv.In("red").SocketsLeave("green")
	srv.Of("/").Local().SocketsJoin("local-only")
	require.NoError(t, srv.Of("/").ServerSideEmit("hello", "x"))
	assert.Equal(t, []string{
		"broadcast / ev 1 rooms=[red] except=[blue] volatile=false",
		"broadcast / ev 3 rooms=[] except=[] volatile=true",
		"addSockets / rooms=[red] except=[] [green]",
		"delSockets / rooms=[red] [green]",
		"serverSideEmit / hello \"x\" ack=false",
	}, fa.take())

	// Remote sockets come from the adapter; their methods go through it.
	remote, err := srv.Of("/").FetchRemoteSockets(context.Background())
	require.NoError(t, err)
	require.Len(t, remote, 1)
	assert.Equal(t, "remote1", remote[0].ID())
	assert.JSONEq(t, `{"a":1}`, string(remote[0].Data()))
	require.NoError(t, remote[0].Emit("direct"))
	remote[0].Disconnect(true)
	assert.Equal(t, []string{
		"broadcast / direct  rooms=[remote1] except=[] volatile=false",
		"disconnectSockets / rooms=[remote1] true",
	}, fa.take())
	none, err := srv.Of("/").Local().FetchRemoteSockets(context.Background())
	require.NoError(t, err)
	assert.Empty(t, none)

	// Broadcast with acks: done once every node's count and answers are in
	// (this node 1 client, the others 2 and 0; 3 servers).
	answers := make(chan []string, 1)
	require.NoError(t, srv.Of("/").Timeout(5*time.Second).Emit("poll", func(a []sio.Args, err error) {
		assert.NoError(t, err)
		var texts []string
		for _, x := range a {
			s, _ := x.String(0)
			texts = append(texts, s)
		}
		sort.Strings(texts)
		answers <- texts
	}))
	assert.Equal(t, []string{"local", "remote 0.0", "remote 0.1"}, <-answers)

	// A node that never reports: the timeout ends the wait.
	fa.mu.Lock()
	fa.servers = 4
	fa.mu.Unlock()
	errs := make(chan error, 1)
	require.NoError(t, srv.Of("/").Timeout(300*time.Millisecond).Emit("poll", func(a []sio.Args, err error) { errs <- err }))
	assert.ErrorIs(t, <-errs, sio.ErrAckTimeout)
	fa.take()

	// Info the other nodes see of a local socket.
	l := fa.locals["/"]
	infos := l.FetchSockets(sio.AdapterOptions{Rooms: []string{"red"}})
	require.Len(t, infos, 1)
	assert.JSONEq(t, `{"n":1}`, string(infos[0].Data))
	assert.True(t, l.HasRoom("red"))
	assert.False(t, l.HasRoom("nope"))
	assert.Len(t, l.SocketIDs(nil), 1)

	// Remote operations enter the local path.
	l.Broadcast("remote-ev", sio.NewArgs([][]byte{[]byte(`"r"`)}, nil), sio.AdapterOptions{Rooms: []string{"red"}})
	assert.Equal(t, `remote-ev "r"`, <-got)
	l.Broadcast("never", sio.Args{}, sio.AdapterOptions{Except: []string{"red"}})
	l.Broadcast("marker", sio.Args{}, sio.AdapterOptions{})
	assert.Equal(t, `marker `, <-got)
	assert.Empty(t, fa.take(), "remote operations are not sent back to the cluster")

	// Server-side events run the namespace's handlers, one at a time.
	sse := make(chan string, 2)
	require.NoError(t, srv.Of("/").OnServerSideEmit("sse", func(v string, ack sio.Ack) {
		sse <- v
		if ack != nil {
			_ = ack("answer " + v)
		}
	}))
	l.ServerSideEmit("sse", sio.NewArgs([][]byte{[]byte(`"plain"`)}, nil), nil)
	assert.Equal(t, "plain", <-sse)
	acked := make(chan string, 1)
	l.ServerSideEmit("sse", sio.NewArgs([][]byte{[]byte(`"acked"`)}, nil), func(a sio.Args) { s, _ := a.String(0); acked <- s })
	assert.Equal(t, "acked", <-sse)
	assert.Equal(t, "answer acked", <-acked)

	srv.Close()
	assert.Contains(t, fa.take(), "close /")
}
