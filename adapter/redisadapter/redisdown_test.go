package redisadapter_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/internal/testredis"
)

// TestRedisDownAndBack stops the Redis server under a two-node cluster:
// each node keeps serving its own clients (broadcasts, acks both ways),
// cross-node operations fail with an error in bounded time, and once
// Redis is back on the same port the nodes resubscribe by themselves and
// cross-node traffic resumes, without restarting them.
func TestRedisDownAndBack(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		name := "classic"
		if sharded {
			name = "sharded"
		}
		t.Run(name, func(t *testing.T) { redisDownAndBack(t, sharded) })
	}
}

func redisDownAndBack(t *testing.T, sharded bool) {
	rs := testredis.Start(t)
	key := uniqueKey(t)
	setup := func(srv *sio.Server) {
		srv.OnConnection(func(s *sio.Socket) {
			_ = s.On("echo", func(args sio.Args, ack sio.Ack) { _ = ack(args.Values()...) })
		})
		_ = srv.Of("/").OnServerSideEmit("hello", func(ack sio.Ack) { _ = ack("hi") })
	}
	a := newNode(t, rs.URL(), key, setup, sharded)
	b := newNode(t, rs.URL(), key, setup, sharded)
	ca := connect(t, a.url)
	cb := connect(t, b.url)
	sa := localSocket(t, a.srv)
	localSocket(t, b.srv)
	ctx := context.Background()

	crossNode := func(from, to *node) error {
		remote, err := from.srv.Of("/").FetchRemoteSockets(ctx)
		if err != nil {
			return err
		}
		if len(remote) != 1 {
			return fmt.Errorf("%d remote sockets", len(remote))
		}
		answers, err := from.srv.Of("/").ServerSideEmitWithAck(ctx, "hello")
		if err != nil {
			return err
		}
		if len(answers) != 1 {
			return fmt.Errorf("%d server-side answers", len(answers))
		}
		return nil
	}
	require.NoError(t, a.srv.Emit("one"))
	assert.Equal(t, "one", ca.next(t))
	assert.Equal(t, "one", cb.next(t))
	require.NoError(t, crossNode(a, b))
	require.NoError(t, crossNode(b, a))

	rs.Stop()
	downAt := time.Now()

	// Each node serves its own clients: broadcasts, client→server and
	// server→client acks.
	for i, n := range []*node{a, b} {
		c := []*client{ca, cb}[i]
		require.NoError(t, n.srv.Emit("down", i))
		assert.Equal(t, fmt.Sprintf("down %d", i), c.next(t))
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, err := c.s.EmitWithAck(actx, "echo", "local", i)
		cancel()
		require.NoError(t, err, "client→server ack with Redis down")
		assert.Equal(t, `"local"`, string(got.Raw(0)))
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	got, err := sa.EmitWithAck(actx, "poll")
	cancel()
	require.NoError(t, err, "server→client ack with Redis down")
	s, _ := got.String(0)
	assert.True(t, strings.HasPrefix(s, "yes from "), s)

	// Cross-node operations fail, with an error naming the adapter, in
	// bounded time (go-redis's dial attempts, then the error); they run at
	// once, on both nodes.
	var wg sync.WaitGroup
	bound := func(what string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			start := time.Now()
			err := fn(ctx)
			took := time.Since(start)
			t.Logf("Redis down: %s: %v after %v", what, err, took.Round(time.Millisecond))
			if assert.Error(t, err, what) {
				assert.Contains(t, err.Error(), "redisadapter", what)
			}
			assert.NoError(t, ctx.Err(), "%s: only the caller's deadline stopped it", what)
			assert.Less(t, took, 10*time.Second, what)
		}()
	}
	for i, n := range []*node{a, b} {
		nsp := n.srv.Of("/")
		bound(fmt.Sprintf("node %d FetchRemoteSockets", i), func(ctx context.Context) error {
			_, err := nsp.FetchRemoteSockets(ctx)
			return err
		})
		bound(fmt.Sprintf("node %d ServerSideEmitWithAck", i), func(ctx context.Context) error {
			_, err := nsp.ServerSideEmitWithAck(ctx, "hello")
			return err
		})
		bound(fmt.Sprintf("node %d ServerCount", i), func(ctx context.Context) error {
			_, err := nsp.ServerCount(ctx)
			return err
		})
		// Fire-and-forget operations are queued, and dropped (logged) when
		// the publish fails: they do not block the caller.
		start := time.Now()
		err := nsp.ServerSideEmit("hello")
		t.Logf("Redis down: node %d ServerSideEmit: %v after %v", i, err, time.Since(start).Round(time.Microsecond))
		assert.Less(t, time.Since(start), time.Second)
	}
	wg.Wait()
	assert.True(t, ca.s.Connected() && cb.s.Connected(), "clients stay connected")
	t.Logf("Redis was down for %v", time.Since(downAt).Round(time.Millisecond))

	// Times are from the restart's start (Restart returns once Redis
	// answers a PING).
	upAt := time.Now()
	rs.Restart()
	t.Logf("Redis restarted, answering after %v", time.Since(upAt).Round(time.Millisecond))

	// The nodes resubscribe on the new server by themselves.
	rc := testredis.Client(t, rs.URL())
	require.Eventually(t, func() bool {
		if sharded {
			m, err := rc.PubSubShardNumSub(ctx, key+"#/#").Result()
			return err == nil && m[key+"#/#"] == 2
		}
		m, err := rc.PubSubNumSub(ctx, key+"-request#/#", key+"-response#/#").Result()
		pats, perr := rc.PubSubNumPat(ctx).Result()
		// NUMPAT counts distinct patterns: the nodes share theirs.
		return err == nil && perr == nil && m[key+"-request#/#"] == 2 && m[key+"-response#/#"] == 2 && pats == 1
	}, 15*time.Second, 20*time.Millisecond, "subscriptions were not re-established")
	resubscribed := time.Since(upAt)

	// Cross-node broadcasts resume in both directions.
	resumed := func(from *node, self, other *client, dir string) time.Duration {
		deadline := time.Now().Add(15 * time.Second)
		for i := 0; ; i++ {
			name := "probe-" + dir
			require.NoError(t, from.srv.Emit(name, i))
			for self.next(t) != fmt.Sprintf("%s %d", name, i) { // skip late events
			}
			select {
			case e := <-other.events:
				if strings.HasPrefix(e, name) {
					return time.Since(upAt)
				}
				// A broadcast published while Redis was down may arrive
				// now (go-redis retried it); nothing else may.
				require.True(t, strings.HasPrefix(e, "down") || strings.HasPrefix(e, "probe-"), "unexpected %q", e)
			case <-time.After(50 * time.Millisecond):
			}
			require.True(t, time.Now().Before(deadline), "%s: cross-node delivery did not resume within 15s", dir)
		}
	}
	ab := resumed(a, ca, cb, "ab")
	ba := resumed(b, cb, ca, "ba")
	// Requests through the command connections (server count, then the
	// request): go-redis's pool answers with its last dial error for up to
	// a second after Redis is back (its dial circuit breaker probes once a
	// second).
	var lastErr error
	require.Eventually(t, func() bool {
		lastErr = crossNode(a, b)
		if lastErr == nil {
			lastErr = crossNode(b, a)
		}
		return lastErr == nil
	}, 10*time.Second, 50*time.Millisecond, "cross-node requests did not resume: %v", &lastErr)
	t.Logf("Redis back: subscriptions restored after %v; broadcasts a→b after %v, b→a after %v; cross-node requests after %v",
		resubscribed.Round(time.Millisecond), ab.Round(time.Millisecond), ba.Round(time.Millisecond), time.Since(upAt).Round(time.Millisecond))
	assert.Less(t, time.Since(upAt), 10*time.Second)
}
