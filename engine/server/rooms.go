package server

// BroadcastOptions selects the recipients of a broadcast, as the reference
// adapter does: the sockets in any of Rooms (every socket of the namespace
// when Rooms is empty), minus the sockets in any of Except. Every socket is in
// the room named by its own id, so Except can name sockets too.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
}

// Rooms is the in-memory room index of one namespace: which members (K, for
// example a socket handle) are in which rooms. It is not safe for concurrent
// use. It is the local half of an adapter; a networked adapter publishes
// broadcasts to other nodes and feeds theirs back into the same index.
type Rooms[K comparable] struct {
	rooms   map[string]*memberSet[K]
	members map[K][]string // a member's rooms: few, so a slice (smaller than a map)
}

// NewRooms returns an empty index.
func NewRooms[K comparable]() *Rooms[K] {
	return &Rooms[K]{rooms: make(map[string]*memberSet[K]), members: make(map[K][]string)}
}

// Add puts member in each of rooms; a member with no room yet is still
// registered (it receives namespace-wide broadcasts).
func (r *Rooms[K]) Add(member K, rooms ...string) {
	mine, known := r.members[member]
	for _, room := range rooms {
		if contains(mine, room) {
			continue
		}
		mine = append(mine, room)
		set := r.rooms[room]
		if set == nil {
			set = &memberSet[K]{}
			r.rooms[room] = set
		}
		set.add(member)
	}
	if !known || len(rooms) > 0 {
		r.members[member] = mine
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Del removes member from room; an emptied room disappears.
func (r *Rooms[K]) Del(member K, room string) {
	mine := r.members[member]
	for i, x := range mine {
		if x == room {
			last := len(mine) - 1
			mine[i] = mine[last]
			mine[last] = ""
			r.members[member] = mine[:last]
			r.dropFromRoom(member, room)
			return
		}
	}
}

func (r *Rooms[K]) dropFromRoom(member K, room string) {
	set := r.rooms[room]
	if set == nil {
		return
	}
	set.del(member)
	if set.len() == 0 {
		delete(r.rooms, room)
	}
}

// DelAll removes member from every room and from the index.
func (r *Rooms[K]) DelAll(member K) {
	for _, room := range r.members[member] {
		r.dropFromRoom(member, room)
	}
	delete(r.members, member)
}

// Has reports whether member is in room.
func (r *Rooms[K]) Has(member K, room string) bool {
	return contains(r.members[member], room)
}

// RoomsOf returns the rooms of member, in no particular order.
func (r *Rooms[K]) RoomsOf(member K) []string {
	return append([]string(nil), r.members[member]...)
}

// AllRooms returns every room name with at least one member.
func (r *Rooms[K]) AllRooms() []string {
	out := make([]string, 0, len(r.rooms))
	for room := range r.rooms {
		out = append(out, room)
	}
	return out
}

// Len returns the number of members in the index.
func (r *Rooms[K]) Len() int { return len(r.members) }

// RoomLen returns the number of members in room.
func (r *Rooms[K]) RoomLen(room string) int {
	if set := r.rooms[room]; set != nil {
		return set.len()
	}
	return 0
}

// Each calls fn once for every member selected by opts, until fn returns false.
func (r *Rooms[K]) Each(opts BroadcastOptions, fn func(K) bool) {
	excluded := func(K) bool { return false }
	if len(opts.Except) > 0 {
		except := make(map[K]struct{})
		for _, room := range opts.Except {
			r.rooms[room].each(func(m K) bool {
				except[m] = struct{}{}
				return true
			})
		}
		if len(except) > 0 {
			excluded = func(m K) bool { _, ok := except[m]; return ok }
		}
	}
	if len(opts.Rooms) == 0 {
		for m := range r.members {
			if !excluded(m) && !fn(m) {
				return
			}
		}
		return
	}
	var seen map[K]struct{}
	if len(opts.Rooms) > 1 {
		seen = make(map[K]struct{})
	}
	for _, room := range opts.Rooms {
		more := r.rooms[room].each(func(m K) bool {
			if seen != nil {
				if _, dup := seen[m]; dup {
					return true
				}
				seen[m] = struct{}{}
			}
			return excluded(m) || fn(m)
		})
		if !more {
			return
		}
	}
}

// Count returns the number of members selected by opts.
func (r *Rooms[K]) Count(opts BroadcastOptions) int {
	n := 0
	r.Each(opts, func(K) bool { n++; return true })
	return n
}

// memberSet is the members of one room. Most rooms have one member (every
// socket is in a room of its own id): it is held without a map, which would
// cost a few hundred bytes per socket.
type memberSet[K comparable] struct {
	one  K
	has  bool           // one is a member (only while many is nil)
	many map[K]struct{} // two members or more
}

func (s *memberSet[K]) add(m K) {
	switch {
	case s.many != nil:
		s.many[m] = struct{}{}
	case !s.has:
		s.one, s.has = m, true
	case s.one != m:
		s.many = map[K]struct{}{s.one: {}, m: {}}
		var zero K
		s.one, s.has = zero, false
	}
}

func (s *memberSet[K]) del(m K) {
	if s.many != nil {
		delete(s.many, m)
		return
	}
	if s.has && s.one == m {
		var zero K
		s.one, s.has = zero, false
	}
}

func (s *memberSet[K]) len() int {
	switch {
	case s.many != nil:
		return len(s.many)
	case s.has:
		return 1
	}
	return 0
}

// each calls fn for every member until it returns false, and reports
// whether it went through all of them. A nil set has none.
func (s *memberSet[K]) each(fn func(K) bool) bool {
	switch {
	case s == nil:
	case s.many != nil:
		for m := range s.many {
			if !fn(m) {
				return false
			}
		}
	case s.has:
		return fn(s.one)
	}
	return true
}
