package server

import (
	"strconv"
	"testing"
	"time"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
)

// BenchmarkBroadcastPlan1000 measures planning a broadcast to 1000 sockets:
// one encoding, the room lookup, and queuing the shared bytes on each
// connection (the driver's write is not included).
func BenchmarkBroadcastPlan1000(b *testing.B) {
	cfg := Config{}.WithDefaults()
	now := time.Unix(1_700_000_000, 0)
	rooms := NewRooms[*Conn]()
	conns := make([]*Conn, 1000)
	for i := range conns {
		c := NewConn(&cfg, eio.NewSession(&cfg.EIO, "sid"+strconv.Itoa(i), eio.WebSocket, now), now)
		_ = c.Session().HandleWebSocketFrame(now, []byte("40"), false)
		for _, ok := c.PollEvent(); ok; _, ok = c.PollEvent() {
		}
		_ = c.AcceptConnect("/", "id"+strconv.Itoa(i), nil)
		for _, ok := c.Session().PollTransmit(eio.WebSocket); ok; _, ok = c.Session().PollTransmit(eio.WebSocket) {
		}
		rooms.Add(c, "id"+strconv.Itoa(i), "all")
		conns[i] = c
	}
	data := []byte(`["news",{"text":"hello","user":"u1"}]`)
	opts := BroadcastOptions{Rooms: []string{"all"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		enc := Encode(&packet.Packet{Type: packet.Event, Data: data})
		rooms.Each(opts, func(c *Conn) bool {
			_ = c.SendEncoded("/", enc)
			return true
		})
		for _, c := range conns { // the drivers take the frames
			c.Session().PollTransmit(eio.WebSocket)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/recipient")
}
