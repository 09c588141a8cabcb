package server

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Connection state recovery, as the reference does it (its
// connectionStateRecovery option): every recorded packet gets an offset,
// appended as the last argument of the event it carries; the CONNECT reply
// carries a private session id "pid"; a client that lost its connection
// comes back with {"pid", "offset"} in its CONNECT payload and, if its
// session is still known, gets its socket id, rooms and data back, then the
// packets recorded after its offset that its rooms would have received.

// Session is what a socket disconnected for a recoverable reason leaves
// behind, of type D for its data.
type Session[D any] struct {
	ID    string   // the socket id, restored
	PID   string   // the private session id, as sent in the CONNECT reply
	Rooms []string // the socket's rooms at disconnection, its own id included
	Data  D
}

// RecoverableReason reports whether a socket disconnected for reason may be
// recovered (the reference's list: transport failures and server-side closes,
// never a disconnection the client or the application asked for).
func RecoverableReason(reason string) bool {
	switch reason {
	case ReasonTransportError, ReasonTransportClose, ReasonForcedClose, ReasonPingTimeout,
		ReasonServerShuttingDown, ReasonForcedServerClose:
		return true
	}
	return false
}

// RecoveryAuth returns the pid and offset of a CONNECT payload (raw JSON
// object, as EventConnect carries it) asking for recovery. Like the
// reference, it asks only when both are strings.
func RecoveryAuth(auth []byte) (pid, offset string, ok bool) {
	if len(auth) == 0 {
		return "", "", false
	}
	var a struct {
		PID    any `json:"pid"`
		Offset any `json:"offset"`
	}
	if json.Unmarshal(auth, &a) != nil {
		return "", "", false
	}
	pid, ok1 := a.PID.(string)
	offset, ok2 := a.Offset.(string)
	return pid, offset, ok1 && ok2
}

type recorded[P any] struct {
	seq    uint64
	at     time.Time
	rooms  []string
	except []string
	v      P
}

type persisted[D any] struct {
	s  Session[D]
	at time.Time
}

type persistRef struct {
	pid string
	at  time.Time
}

// RecoveryStore keeps, for one namespace, the packets recorded during the
// last MaxDisconnection (values of type P, for instance their encoding) and
// the sessions of sockets disconnected for less than that. Time is given by
// the caller. It is not safe for concurrent use.
type RecoveryStore[P, D any] struct {
	max      time.Duration
	tag      string
	packets  []recorded[P] // by seq, consecutive
	next     uint64
	sessions map[string]persisted[D]
	order    []persistRef // sessions by persistence time, for expiry
}

// NewRecoveryStore returns a store keeping packets and sessions for max.
// Offsets start with tag, so that an offset from another store (another
// process or namespace) is never mistaken for one of this store's.
func NewRecoveryStore[P, D any](max time.Duration, tag string) *RecoveryStore[P, D] {
	return &RecoveryStore[P, D]{max: max, tag: tag, next: 1, sessions: make(map[string]persisted[D])}
}

// Record records v, sent at now to the sockets in any of rooms (all when
// empty) except those in any of except, and returns its offset.
func (r *RecoveryStore[P, D]) Record(now time.Time, rooms, except []string, v P) string {
	r.Expire(now)
	seq := r.next
	r.next++
	r.packets = append(r.packets, recorded[P]{seq: seq, at: now, rooms: rooms, except: except, v: v})
	return r.offset(seq)
}

func (r *RecoveryStore[P, D]) offset(seq uint64) string {
	return r.tag + strconv.FormatUint(seq, 36)
}

// index returns the position in packets of the packet with offset.
func (r *RecoveryStore[P, D]) index(offset string) (int, bool) {
	rest, ok := strings.CutPrefix(offset, r.tag)
	if !ok || len(r.packets) == 0 {
		return 0, false
	}
	seq, err := strconv.ParseUint(rest, 36, 64)
	if err != nil || r.offset(seq) != offset || seq < r.packets[0].seq {
		return 0, false
	}
	i := seq - r.packets[0].seq
	if i >= uint64(len(r.packets)) {
		return 0, false
	}
	return int(i), true
}

// Persist keeps s, disconnected at now, for MaxDisconnection.
func (r *RecoveryStore[P, D]) Persist(now time.Time, s Session[D]) {
	r.Expire(now)
	r.sessions[s.PID] = persisted[D]{s: s, at: now}
	r.order = append(r.order, persistRef{pid: s.PID, at: now})
}

// Restore takes the session pid if it is still known and offset is still
// recorded (otherwise the client cannot be given what it missed and, like
// the reference, is not recovered). The session is removed: it is restored
// once. Collect the missed packets with Missed when the socket is admitted.
func (r *RecoveryStore[P, D]) Restore(now time.Time, pid, offset string) (Session[D], bool) {
	r.Expire(now)
	p, ok := r.sessions[pid]
	if !ok {
		return Session[D]{}, false
	}
	if _, ok := r.index(offset); !ok {
		return Session[D]{}, false
	}
	delete(r.sessions, pid)
	return p.s, true
}

// Missed returns the packets recorded after offset that a socket in rooms
// would have received, in order; ok is false when offset is no longer
// recorded.
func (r *RecoveryStore[P, D]) Missed(offset string, rooms []string) (out []P, ok bool) {
	i, ok := r.index(offset)
	if !ok {
		return nil, false
	}
	for _, p := range r.packets[i+1:] {
		if includes(rooms, p.rooms, p.except) {
			out = append(out, p.v)
		}
	}
	return out, true
}

// includes reports whether a socket in sessionRooms is selected by rooms and except.
func includes(sessionRooms, rooms, except []string) bool {
	in := len(rooms) == 0
	for _, s := range sessionRooms {
		for _, e := range except {
			if s == e {
				return false
			}
		}
		if !in {
			for _, room := range rooms {
				if s == room {
					in = true
					break
				}
			}
		}
	}
	return in
}

// Expire forgets the packets and sessions older than MaxDisconnection at now.
// Record, Persist and Restore call it.
func (r *RecoveryStore[P, D]) Expire(now time.Time) {
	threshold := now.Add(-r.max)
	n := 0
	for n < len(r.packets) && r.packets[n].at.Before(threshold) {
		n++
	}
	if n > 0 {
		clear(r.packets[:n])
		r.packets = r.packets[n:]
	}
	n = 0
	for n < len(r.order) && r.order[n].at.Before(threshold) {
		ref := r.order[n]
		if p, ok := r.sessions[ref.pid]; ok && !p.at.After(ref.at) {
			delete(r.sessions, ref.pid)
		}
		n++
	}
	if n > 0 {
		clear(r.order[:n])
		r.order = r.order[n:]
	}
}

// Len returns the number of packets and sessions kept.
func (r *RecoveryStore[P, D]) Len() (packets, sessions int) { return len(r.packets), len(r.sessions) }
