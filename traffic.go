package sio

import (
	"bytes"
	"sync/atomic"

	"github.com/sio-go/sio/engine/eio"
)

// TrafficStats count the Engine.IO packets and bytes that crossed the
// transports of every server of the process (Server and EngineServer
// alike): WebSocket messages and polling payloads, pings and pongs
// included. Bytes are the Engine.IO encoding (before HTTP, WebSocket
// framing or compression).
type TrafficStats struct {
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
}

var traffic struct {
	packetsIn, packetsOut, bytesIn, bytesOut atomic.Uint64
}

// Traffic returns the process's traffic counters, for metrics.
func Traffic() TrafficStats {
	return TrafficStats{
		PacketsIn:  traffic.packetsIn.Load(),
		PacketsOut: traffic.packetsOut.Load(),
		BytesIn:    traffic.bytesIn.Load(),
		BytesOut:   traffic.bytesOut.Load(),
	}
}

func countIn(packets, n int) {
	traffic.packetsIn.Add(uint64(packets))
	traffic.bytesIn.Add(uint64(n))
}

func countPayloadIn(body []byte) {
	if len(body) > 0 {
		countIn(bytes.Count(body, []byte{eio.Separator})+1, len(body))
	}
}

func countOut(packets, n int) {
	traffic.packetsOut.Add(uint64(packets))
	traffic.bytesOut.Add(uint64(n))
}

// countFramesOut counts packets written as WebSocket messages: a text
// message is the type digit and the data, a binary one the data.
func countFramesOut(packets []eio.Packet) {
	n := 0
	for _, p := range packets {
		n += len(p.Data)
		if !p.Binary {
			n++
		}
	}
	countOut(len(packets), n)
}
