package nethttp

import (
	"testing"

	"github.com/stretchr/testify/assert"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/eio"
)

// countOnly is an Acceptor reporting a fixed number of open sessions.
type countOnly struct{ n int }

func (c *countOnly) EngineConfig() *eio.ServerConfig { return &eio.ServerConfig{} }
func (c *countOnly) Accept(eio.Transport, sio.Handshake) (*sio.Conn, error) {
	panic("not used")
}
func (c *countOnly) Lookup(string) (*sio.Conn, bool) { return nil, false }
func (c *countOnly) ConnCount() int                  { return c.n }

// Handshakes in flight hold their slot: with one slot free, a second
// concurrent handshake is refused before the first is accepted, and the
// slot comes back when a handshake ends without a session.
func TestReserveSlotCountsHandshakesInFlight(t *testing.T) {
	srv := &countOnly{n: 9}
	h := NewHandler(srv, &Options{MaxConnections: 10})
	release, ok := h.reserveSlot()
	assert.True(t, ok, "the last slot")
	_, ok = h.reserveSlot()
	assert.False(t, ok, "taken by the handshake in flight")
	release()
	release() // idempotent
	release2, ok := h.reserveSlot()
	assert.True(t, ok, "given back")
	srv.n = 10 // the first handshake's session is now counted
	release2()
	_, ok = h.reserveSlot()
	assert.False(t, ok, "at capacity")

	unlimited := NewHandler(srv, nil)
	for i := 0; i < 100; i++ {
		_, ok := unlimited.reserveSlot()
		assert.True(t, ok)
	}
}
