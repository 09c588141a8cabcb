package packet

import (
	"errors"
	"testing"
)

var (
	benchEvent     = []byte(`2["chat",{"text":"hello","user":"u1"}]`)
	benchBinHeader = []byte(`53-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`)
	benchBins      = [][]byte{make([]byte, 1024), make([]byte, 16), make([]byte, 4096)}
	benchDeep      = []byte("2" + deep("[", "]", 10000))
)

// BenchmarkDecodeEvent decodes a typical event: header, then name and arguments.
func BenchmarkDecodeEvent(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	args := make([][]byte, 0, 4)
	for b.Loop() {
		p, _, err := DecodeHeader(benchEvent, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		name, a, err := EventName(p.Data, args[:0])
		if err != nil || name != "chat" || len(a) != 1 {
			b.Fatal(name, err)
		}
	}
}

// BenchmarkEncodeEvent encodes the same event from its name and raw argument.
func BenchmarkEncodeEvent(b *testing.B) {
	b.ReportAllocs()
	args := [][]byte{[]byte(`{"text":"hello","user":"u1"}`)}
	data := make([]byte, 0, 64)
	out := make([]byte, 0, 64)
	for b.Loop() {
		data = AppendEventData(data[:0], "chat", args)
		p := Packet{Type: Event, Data: data}
		out = AppendHeader(out[:0], &p)
	}
	if string(out) != string(benchEvent) {
		b.Fatalf("encoded %s", out)
	}
}

// BenchmarkDecodeBinaryEvent runs a header and its 3 attachments through a
// Decoder, then resolves the placeholders.
func BenchmarkDecodeBinaryEvent(b *testing.B) {
	b.ReportAllocs()
	var d Decoder
	args := make([][]byte, 0, 4)
	for b.Loop() {
		if _, _, err := d.Decode(benchBinHeader, false); err != nil {
			b.Fatal(err)
		}
		var p Packet
		var ok bool
		for _, bin := range benchBins {
			var err error
			if p, ok, err = d.Decode(bin, true); err != nil {
				b.Fatal(err)
			}
		}
		if !ok || len(p.Attachments) != 3 {
			b.Fatal("incomplete packet")
		}
		_, a, err := EventName(p.Data, args[:0])
		if err != nil {
			b.Fatal(err)
		}
		for i, arg := range a {
			if n, ok := Placeholder(arg); !ok || n != i {
				b.Fatalf("argument %d: %s", i, arg)
			}
		}
	}
}

// BenchmarkEncodeBinaryEvent writes the header of an event with 3 attachments.
func BenchmarkEncodeBinaryEvent(b *testing.B) {
	b.ReportAllocs()
	phs := make([]byte, 0, 128)
	args := make([][]byte, 3)
	data := make([]byte, 0, 128)
	out := make([]byte, 0, 128)
	for b.Loop() {
		phs = phs[:0]
		for i := range args {
			start := len(phs)
			phs = AppendPlaceholder(phs, i)
			args[i] = phs[start:]
		}
		data = AppendEventData(data[:0], "upload", args)
		p := Packet{Type: Event, Data: data, Attachments: benchBins}
		out = AppendHeader(out[:0], &p)
	}
	if string(out) != string(benchBinHeader) {
		b.Fatalf("encoded %s", out)
	}
}

// BenchmarkRejectDeep refuses a 10,000-deep nested array.
func BenchmarkRejectDeep(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _, err := DecodeHeader(benchDeep, Limits{})
		if !errors.Is(err, ErrTooDeep) {
			b.Fatal(err)
		}
	}
}
