package sio

import (
	"sync"
	"time"

	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
)

// ConnectionStateRecovery configures connection state recovery, the
// reference's option of the same name: a client that lost its connection
// (transport error or close, ping timeout, server restart of the
// connection) and comes back within MaxDisconnectionDuration gets its socket
// id, rooms and data back, and the events it missed, in order, exactly once.
//
// Every event sent without acknowledgement and not volatile, to one socket
// or broadcast, is recorded with an offset appended as its last argument;
// socket.io-client keeps the last offset it received and presents it with
// the session's pid (sent in the CONNECT reply) when it reconnects.
//
// The state is kept in memory, per namespace, on this node: with a cluster
// adapter, a client recovers when it comes back to the same node (sticky
// sessions, which polling needs anyway); events broadcast by other nodes
// are recorded as they are delivered here.
type ConnectionStateRecovery struct {
	// MaxDisconnectionDuration is how long sessions and recorded events are
	// kept. Default 2 minutes.
	MaxDisconnectionDuration time.Duration
	// RunMiddlewares runs the namespace's middleware for recovered sockets
	// too. Default false: they skip it, as the reference's default
	// skipMiddlewares: true.
	RunMiddlewares bool
}

// DefaultMaxDisconnectionDuration is the default of
// ConnectionStateRecovery.MaxDisconnectionDuration.
const DefaultMaxDisconnectionDuration = 2 * time.Minute

// namespaceRecovery is one namespace's recovery state. Its lock orders
// recorded packets: each is recorded, and queued on its recipients'
// connections, while it is held, so that the offsets a client sees grow
// and a recovering socket gets every packet once, either replayed or live.
type namespaceRecovery struct {
	mu             sync.Mutex
	store          *server.RecoveryStore[*server.Encoded, any]
	runMiddlewares bool
}

func newNamespaceRecovery(o *ConnectionStateRecovery) *namespaceRecovery {
	max := o.MaxDisconnectionDuration
	if max <= 0 {
		max = DefaultMaxDisconnectionDuration
	}
	tag := server.NewID()[:6]
	return &namespaceRecovery{store: server.NewRecoveryStore[*server.Encoded, any](max, tag), runMiddlewares: o.RunMiddlewares}
}

// record records a packet for the selection and returns its encoding, the
// offset appended to its arguments. Called with r.mu held.
func (r *namespaceRecovery) record(nsp string, rooms, except []string, event string, raw, att [][]byte) *server.Encoded {
	enc := new(server.Encoded)
	offset := r.store.Record(time.Now(), rooms, except, enc)
	withOffset := make([][]byte, len(raw)+1)
	copy(withOffset, raw)
	withOffset[len(raw)] = packet.AppendString(nil, offset)
	*enc = *server.Encode(&packet.Packet{Type: packet.Event, Namespace: nsp,
		Data: packet.AppendEventData(nil, event, withOffset), Attachments: att})
	return enc
}

// broadcast records and delivers a broadcast of one namespace.
func (r *namespaceRecovery) broadcast(b *BroadcastOperator, event string, raw, att [][]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	enc := r.record(b.nsp.name, b.rooms, b.except, event, raw, att)
	recipients := b.collect()
	defer release(recipients)
	b.deliver(*recipients, event, raw, att, enc)
	return nil
}

// emitTo records and sends an event to one socket.
func (r *namespaceRecovery) emitTo(s *Socket, event string, raw, att [][]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	enc := r.record(s.name, []string{s.id}, nil, event, raw, att)
	return s.conn.sendEncoded(s.name, enc, false)
}

// socketRecovery is a socket's recovery state.
type socketRecovery struct {
	pid       string   // sent in the CONNECT reply; empty without recovery
	recovered bool     // the socket is a restored session
	offset    string   // the last offset the client had
	rooms     []string // the rooms to join again
}

// Recovered reports whether the socket is a session restored by connection
// state recovery: same id, rooms and data as before, and the missed events
// were sent right after the CONNECT reply.
func (s *Socket) Recovered() bool { return s.recov.recovered }

// prepareRecovery restores the session the CONNECT payload asks for, if the
// namespace keeps it, before the middleware runs (so that middleware sees
// the restored id and data); it reports whether the middleware is skipped.
func (s *Socket) prepareRecovery(nsp *Namespace) (skipMiddleware bool) {
	r := nsp.rec
	if r == nil {
		return false
	}
	if pid, offset, ok := server.RecoveryAuth(s.auth); ok {
		r.mu.Lock()
		sess, found := r.store.Restore(time.Now(), pid, offset)
		r.mu.Unlock()
		if found {
			s.id = sess.ID
			s.recov = socketRecovery{pid: sess.PID, recovered: true, offset: offset, rooms: sess.Rooms}
			s.SetData(sess.Data)
			return !r.runMiddlewares
		}
	}
	s.recov.pid = s.conn.srv.opts.NewID()
	return false
}

// runMiddleware runs the namespace's middleware unless skip.
func (s *Socket) runMiddleware(nsp *Namespace, skip bool) error {
	if skip {
		return nil
	}
	return nsp.middleware().Run(s)
}

// admit adds the socket to its namespace and answers its CONNECT; a
// recovered socket rejoins its rooms and gets the packets it missed, all
// while no recorded packet can be sent, so that it gets each one once.
func (s *Socket) admit(nsp *Namespace) bool {
	if !s.recov.recovered {
		nsp.add(s)
		s.connected.Store(true)
		if err := s.conn.accept(s, nil); err != nil {
			s.connected.Store(false)
			nsp.remove(s)
			return false
		}
		return true
	}
	r := nsp.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	missed, ok := r.store.Missed(s.recov.offset, s.recov.rooms)
	if !ok {
		s.conn.srv.log.Warn("sio: recovered session lost its missed packets (expired)", "socket", s.id, "nsp", nsp.name)
	}
	nsp.add(s)
	nsp.join(s, s.recov.rooms...)
	s.connected.Store(true)
	if err := s.conn.accept(s, missed); err != nil {
		s.connected.Store(false)
		nsp.remove(s)
		return false
	}
	return true
}

// connectExtra is what the CONNECT reply carries beyond "sid".
func (s *Socket) connectExtra() []byte {
	if s.recov.pid == "" {
		return nil
	}
	return packet.AppendString([]byte(`"pid":`), s.recov.pid)
}

// persistSession keeps the state of a socket that left for a recoverable
// reason. Called before it leaves its rooms.
func (s *Socket) persistSession(reason string) {
	if s.nsp == nil || s.nsp.rec == nil || s.recov.pid == "" || !server.RecoverableReason(reason) {
		return
	}
	r := s.nsp.rec
	rooms := s.nsp.roomsOf(s)
	data := s.Data()
	r.mu.Lock()
	r.store.Persist(time.Now(), server.Session[any]{ID: s.id, PID: s.recov.pid, Rooms: rooms, Data: data})
	r.mu.Unlock()
}
