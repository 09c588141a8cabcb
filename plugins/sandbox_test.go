package plugins

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sio "github.com/sio-go/sio"
)

// WASI errnos (wasi_snapshot_preview1).
const (
	errnoBadf  = 8
	errnoFault = 21
	errnoInval = 28
	errnoNosys = 52
)

// sandboxResults runs one attempt of testdata/sandbox.wat and returns its
// results, or the host's error ack.
func sandboxResults(t *testing.T, c *sio.ClientSocket, event string) ([]int32, string) {
	t.Helper()
	got := ackOf(t, c, event)
	b, ok := got.Bytes(0)
	if !ok {
		return nil, string(got.Raw(0))
	}
	require.Zero(t, len(b)%4)
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, ""
}

// TestSandboxWASI tries the WASI functions a guest could reach the host's
// network, processes, clocks and memory through (testdata/sandbox.wat).
func TestSandboxWASI(t *testing.T) {
	t.Setenv("SIO_SECRET", "do not leak")
	e := newEnv(t, Limits{})
	p := e.load(t, "sandbox", "sandbox", nil)
	p.Attach(e.srv.Of("/"))
	c := e.dial(t, "/")

	t.Run("network", func(t *testing.T) {
		r, errAck := sandboxResults(t, c, "n")
		require.Empty(t, errAck)
		require.Len(t, r, 8)
		t.Logf("sock_accept(3)=%d sock_accept(stdin)=%d sock_recv(3)=%d sock_send(3)=%d sock_shutdown(3)=%d sock_recv(stdout)=%d sock_send(stdout)=%d fd_prestat_get(3)=%d",
			r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
		assert.Equal(t, int32(errnoBadf), r[0], "sock_accept on fd 3: no listener exists")
		assert.Equal(t, int32(errnoBadf), r[2], "sock_recv on fd 3")
		assert.Equal(t, int32(errnoBadf), r[3], "sock_send on fd 3")
		assert.Equal(t, int32(errnoBadf), r[4], "sock_shutdown on fd 3")
		assert.Equal(t, int32(errnoBadf), r[7], "no preopened descriptor (directory or listener)")
		for i, name := range []string{"sock_accept(stdin)", "sock_recv(stdout)", "sock_send(stdout)"} {
			assert.NotZero(t, r[[]int{1, 5, 6}[i]], "%s: stdio is no socket", name)
		}
	})

	t.Run("clocks", func(t *testing.T) {
		r, errAck := sandboxResults(t, c, "c")
		require.Empty(t, errAck)
		require.Len(t, r, 10)
		require.Zero(t, r[0], "clock_time_get(realtime)")
		wall := time.Unix(0, int64(uint32(r[1]))|int64(r[2])<<32)
		t.Logf("realtime %v (host %v); monotonic errno %d; process cputime %d; thread cputime %d; clock_res_get %d; result out of memory %d",
			wall, time.Now(), r[3], r[6], r[7], r[8], r[9])
		assert.WithinDuration(t, time.Now(), wall, 5*time.Second, "the real wall clock (documented)")
		assert.Zero(t, r[3], "clock_time_get(monotonic)")
		assert.Equal(t, int32(errnoInval), r[6], "no process CPU clock")
		assert.Equal(t, int32(errnoInval), r[7], "no thread CPU clock")
		assert.Zero(t, r[8])
		assert.Equal(t, int32(errnoFault), r[9], "a result pointer out of memory is EFAULT")
	})

	t.Run("process", func(t *testing.T) {
		r, errAck := sandboxResults(t, c, "a")
		require.Empty(t, errAck)
		require.Len(t, r, 13)
		t.Logf("args %d/%d/%d environ %d/%d/%d stdin %d/%d proc_raise %d sched_yield %d fd_write(bad iovec) %d random_get(bad) %d path_open(3) %d",
			r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12])
		assert.Equal(t, []int32{0, 0, 0}, r[0:3], "no arguments")
		assert.Equal(t, []int32{0, 0, 0}, r[3:6], "no environment (SIO_SECRET is set on the host)")
		assert.Equal(t, []int32{0, 0}, r[6:8], "stdin is empty")
		assert.Equal(t, int32(errnoNosys), r[8], "proc_raise is not implemented")
		assert.Zero(t, r[9], "sched_yield")
		assert.Equal(t, int32(errnoFault), r[10], "fd_write with an iovec out of memory")
		assert.Equal(t, int32(errnoFault), r[11], "random_get into memory the guest does not have")
		assert.Equal(t, int32(errnoBadf), r[12], "path_open without a preopened directory")
	})

	t.Run("proc_exit", func(t *testing.T) {
		before := p.Stats()
		_, errAck := sandboxResults(t, c, "x")
		assert.JSONEq(t, `{"error":"trap"}`, errAck, "proc_exit ends the call, not the host")
		assert.Equal(t, before.Errors[KindTrap]+1, p.Stats().Errors[KindTrap])
		r, errAck := sandboxResults(t, c, "p")
		require.Empty(t, errAck)
		assert.Equal(t, []int32{42}, r, "a fresh instance serves the next call")
	})

	// Host functions given memory the guest does not have: the call ends
	// with an error (a trap), the host reads and writes nothing outside the
	// guest's memory, and the plugin goes on.
	t.Run("out of range", func(t *testing.T) {
		for _, tc := range []struct {
			event string
			want  []int32 // nil: the call is stopped
		}{
			{"o1", nil},                  // emit: event name far out of memory
			{"o2", nil},                  // ack: arguments straddling the end of memory
			{"o3", nil},                  // data_set: a 4 GiB value
			{"o4", nil},                  // rooms: output buffer out of memory
			{"o5", nil},                  // config: output buffer just past the end
			{"o6", nil},                  // log: message out of memory
			{"o7", nil},                  // join: pointer + length wrapping around 2^32
			{"o8", []int32{codeInvalid}}, // emit: a rooms list whose field claims 4 GiB
			{"o9", nil},                  // data_get: stored value into a buffer out of memory
		} {
			t.Run(tc.event, func(t *testing.T) {
				before := p.Stats().Errors[KindTrap]
				r, errAck := sandboxResults(t, c, tc.event)
				if tc.want != nil {
					require.Empty(t, errAck)
					assert.Equal(t, tc.want, r)
					return
				}
				assert.JSONEq(t, `{"error":"trap"}`, errAck)
				assert.Equal(t, before+1, p.Stats().Errors[KindTrap])
				r, errAck = sandboxResults(t, c, "p")
				require.Empty(t, errAck)
				assert.Equal(t, []int32{42}, r)
			})
		}
		assert.Contains(t, e.logs.String(), errBadMemory.Error())
	})
	assert.True(t, c.Connected())
}

// importModule returns a minimal plugin (memory, sio_abi_version,
// sio_alloc) importing module.name as a function of params i32s returning
// an i32.
func importModule(module, name string, params int) []byte {
	name8 := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	section := func(id byte, body ...[]byte) []byte {
		var b []byte
		for _, p := range body {
			b = append(b, p...)
		}
		return append([]byte{id, byte(len(b))}, b...)
	}
	fn := []byte{0x60, byte(params)}
	for i := 0; i < params; i++ {
		fn = append(fn, 0x7f)
	}
	fn = append(fn, 0x01, 0x7f)
	var out []byte
	out = append(out, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00)
	out = append(out, section(1, []byte{3}, []byte{0x60, 0x00, 0x01, 0x7f}, []byte{0x60, 0x01, 0x7f, 0x01, 0x7f}, fn)...)
	out = append(out, section(2, []byte{1}, name8(module), name8(name), []byte{0x00, 0x02})...)
	out = append(out, section(3, []byte{2, 0, 1})...)
	out = append(out, section(5, []byte{1, 0, 1})...)
	out = append(out, section(7, []byte{3}, name8("memory"), []byte{2, 0},
		name8("sio_abi_version"), []byte{0, 1}, name8("sio_alloc"), []byte{0, 2})...)
	out = append(out, section(10, []byte{2}, []byte{4, 0, 0x41, 0x01, 0x0b}, []byte{5, 0, 0x41, 0x80, 0x08, 0x0b})...)
	return out
}

// TestSandboxSocketImports: the socket functions of WASI extensions
// (WasmEdge's sock_open, sock_connect... in wasi_snapshot_preview1),
// of WASI preview 2 and of other modules do not exist in the host: a
// plugin importing one does not load.
func TestSandboxSocketImports(t *testing.T) {
	e := newEnv(t, Limits{})
	// The module builder itself: a plugin importing a function the host
	// has loads.
	_, err := e.host.Load(context.Background(), "ok", importModule("sio", "join", 2), nil)
	require.NoError(t, err, "the hand-built module is valid")
	_, err = e.host.Load(context.Background(), "accept", importModule("wasi_snapshot_preview1", "sock_accept", 3), nil)
	require.NoError(t, err, "WASI preview 1's sock_accept exists (and finds no listener, see TestSandboxWASI)")
	for i, imp := range []struct {
		module, name string
		params       int
	}{
		{"wasi_snapshot_preview1", "sock_open", 3},
		{"wasi_snapshot_preview1", "sock_connect", 3},
		{"wasi_snapshot_preview1", "sock_bind", 3},
		{"wasi_snapshot_preview1", "sock_listen", 2},
		{"wasi_snapshot_preview1", "sock_getaddrinfo", 8},
		{"wasi_snapshot_preview1", "sock_send_to", 6},
		{"wasi_unstable", "sock_send", 5},
		{"wasi:sockets/tcp@0.2.0", "[method]tcp-socket.start-connect", 4},
		{"wasi:http/outgoing-handler@0.2.0", "handle", 3},
		{"env", "socket", 3},
		{"env", "connect", 3},
	} {
		_, err := e.host.Load(context.Background(), fmt.Sprintf("sock%d", i), importModule(imp.module, imp.name, imp.params), nil)
		require.Error(t, err, "%s.%s", imp.module, imp.name)
		t.Logf("%s.%s: %v", imp.module, imp.name, err)
	}
}
