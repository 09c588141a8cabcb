package client

import (
	"testing"
)

func benchManager(b *testing.B) (*Manager, *Socket) {
	m := New(Config{Rand: seqRand(0)})
	s, _ := m.Socket("/", nil)
	s.Connect(t0)
	m.HandleEngineOpen(t0)
	m.HandleEngineMessage(t0, []byte(`0{"sid":"x"}`), false)
	for _, ok := m.PollAction(); ok; _, ok = m.PollAction() {
	}
	for _, ok := m.PollEvent(); ok; _, ok = m.PollEvent() {
	}
	return m, s
}

func BenchmarkEmit(b *testing.B) {
	m, s := benchManager(b)
	args := [][]byte{[]byte(`"hello"`), []byte(`{"n":1}`)}
	b.ReportAllocs()
	for b.Loop() {
		s.Emit(t0, "msg", args, nil, false, 0)
		for _, ok := m.PollAction(); ok; _, ok = m.PollAction() {
		}
	}
}

func BenchmarkReceiveEvent(b *testing.B) {
	m, _ := benchManager(b)
	msg := []byte(`2["msg","hello",{"n":1}]`)
	b.ReportAllocs()
	for b.Loop() {
		m.HandleEngineMessage(t0, msg, false)
		for _, ok := m.PollEvent(); ok; _, ok = m.PollEvent() {
		}
	}
}
