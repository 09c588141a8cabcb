package plugins

import (
	"encoding/json"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/engine/server"
)

// Attach makes the plugin handle the sockets of nsp (a dynamic parent
// namespace serves its children): its connect hook runs as connect
// middleware, its event hook as an interceptor of each socket (see
// sio.Socket.Intercept), its disconnect hook on disconnection. With events
// given, only those events reach the plugin.
//
// Plugins and native handlers stack in the order they were attached or
// registered: an event the plugin declines (or does not subscribe to) goes
// on to the next plugin attached to the namespace, then to the handlers
// registered with Socket.On. Attach before sockets connect.
func (p *Plugin) Attach(nsp *sio.Namespace, events ...string) {
	var filter map[string]bool
	if len(events) > 0 {
		filter = make(map[string]bool, len(events))
		for _, e := range events {
			filter[e] = true
		}
	}
	nsp.Use(func(s *sio.Socket) error { return p.admit(s, filter) })
}

// sockState is what the host keeps for one socket and one plugin.
type sockState struct {
	p        *Plugin
	s        *sio.Socket
	filter   map[string]bool
	data     map[string][]byte
	dataSize int
}

// errorAck is the answer a client gets when the plugin handling its event
// failed.
func errorAck(kind ErrorKind) json.RawMessage {
	return json.RawMessage(`{"error":"` + string(kind) + `"}`)
}

func (p *Plugin) admit(s *sio.Socket, filter map[string]bool) error {
	st := &sockState{p: p, s: s, filter: filter}
	nsp := s.Namespace().Name()
	hs := handshakeJSON(s.Handshake())
	id := s.ID()
	size := fieldsLen([]byte(id), []byte(nsp), hs)
	res := p.invoke(kindConnect, st, "", nil, false, size, func(b []byte) {
		b = putHeader(b, kindConnect, 0, 0)
		b = putField(b, []byte(id))
		b = putField(b, []byte(nsp))
		putField(b, hs)
	})
	if !res.skipped {
		if res.err != nil {
			p.logFailure("connect", "", s, &res)
			return &server.ConnectError{Message: "plugin error", Data: errorAck(res.kind)}
		}
		if res.code != 0 {
			ce := &server.ConnectError{Message: "Connection refused"}
			if res.refuse != nil {
				if res.refuse.message != "" {
					ce.Message = res.refuse.message
				}
				ce.Data = res.refuse.data
			}
			return ce
		}
		st.commit(&res)
		if effs := res.effs; len(effs) > 0 {
			s.Defer(func() {
				if s.Connected() {
					st.apply(effs, nil)
				}
			})
		}
	}
	s.Intercept(st.onEvent)
	s.OnDisconnect(st.onDisconnect)
	return nil
}

func (st *sockState) onEvent(ev *sio.Event) bool {
	if st.filter != nil && !st.filter[ev.Name] {
		return false
	}
	p := st.p
	if v := p.cur.Load(); v != nil && v.subs != nil && !v.subs[ev.Name] {
		return false
	}
	s := st.s
	id, nsp := s.ID(), s.Namespace().Name()
	ack := ev.Ack != nil
	res := p.invoke(kindEvent, st, ev.Name, &ev.Args, ack, eventRecordLen(id, nsp, ev.Name, ev.Args), func(b []byte) {
		putEventRecord(b, id, nsp, ev.Name, ev.Args, ack, ev.AckID)
	})
	switch {
	case res.skipped:
		return false
	case res.err != nil:
		p.logFailure("event", ev.Name, s, &res)
		if ack {
			_ = ev.Ack(errorAck(res.kind))
		}
		return true
	}
	st.commit(&res)
	st.apply(res.effs, ev.Ack)
	if res.code == 1 {
		p.stats.declined.Add(1)
		return false
	}
	return true
}

func (st *sockState) onDisconnect(reason string) {
	s := st.s
	id, nsp := s.ID(), s.Namespace().Name()
	r := []byte(reason)
	res := st.p.invoke(kindDisconnect, st, "", nil, false, fieldsLen([]byte(id), []byte(nsp), r), func(b []byte) {
		b = putHeader(b, kindDisconnect, 0, 0)
		b = putField(b, []byte(id))
		b = putField(b, []byte(nsp))
		putField(b, r)
	})
	if res.err != nil {
		st.p.logFailure("disconnect", "", s, &res)
	} else if !res.skipped {
		st.apply(res.effs, nil)
	}
	st.data, st.dataSize = nil, 0
}

// commit keeps the data the call set.
func (st *sockState) commit(res *result) {
	if res.data == nil {
		return
	}
	if st.data == nil {
		st.data = make(map[string][]byte, len(res.data))
	}
	for k, v := range res.data {
		if v == nil {
			delete(st.data, k)
		} else {
			st.data[k] = v
		}
	}
	st.dataSize = res.dsize
	if len(st.data) == 0 {
		st.data = nil
	}
}

// apply carries out a call's effects, in order.
func (st *sockState) apply(effs []effect, ack sio.Ack) {
	s := st.s
	for i := range effs {
		e := &effs[i]
		switch e.op {
		case opEmit:
			vals := sio.NewArgs(e.args, e.atts).Values()
			switch e.target {
			case targetSelf:
				_ = s.Emit(e.event, vals...)
			case targetBroadcast:
				if len(e.rooms) > 0 {
					_ = s.To(e.rooms...).Emit(e.event, vals...)
				} else {
					_ = s.Broadcast().Emit(e.event, vals...)
				}
			case targetNamespace:
				if len(e.rooms) > 0 {
					_ = s.Namespace().To(e.rooms...).Emit(e.event, vals...)
				} else {
					_ = s.Namespace().Emit(e.event, vals...)
				}
			}
		case opAck:
			if ack != nil {
				_ = ack(sio.NewArgs(e.args, e.atts).Values()...)
			}
		case opJoin:
			s.Join(e.room)
		case opLeave:
			s.Leave(e.room)
		case opDisconnect:
			s.Disconnect(e.close)
		}
	}
}

func (p *Plugin) logFailure(hook, event string, s *sio.Socket, res *result) {
	attrs := []any{"plugin", p.name, "hook", hook}
	if event != "" {
		attrs = append(attrs, "event", event)
	}
	attrs = append(attrs, "socket", s.ID(), "nsp", s.Namespace().Name(), "kind", string(res.kind), "err", res.err)
	if res.output != "" {
		attrs = append(attrs, "output", res.output)
	}
	p.host.log.Error("plugin call failed", attrs...)
}
