package server

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func members(r *Rooms[int], opts BroadcastOptions) []int {
	var out []int
	r.Each(opts, func(m int) bool { out = append(out, m); return true })
	slices.Sort(out)
	return out
}

func TestRoomsOneMemberAndMany(t *testing.T) {
	r := NewRooms[int]()
	r.Add(1, "own-1", "lobby")
	r.Add(2, "own-2", "lobby")
	r.Add(3, "own-3")
	r.Add(1, "own-1") // again: no change
	assert.Equal(t, 1, r.RoomLen("own-1"))
	assert.Equal(t, 2, r.RoomLen("lobby"))
	assert.Equal(t, 0, r.RoomLen("nowhere"))
	assert.Equal(t, []int{1, 2, 3}, members(r, BroadcastOptions{}))
	assert.Equal(t, []int{1, 2}, members(r, BroadcastOptions{Rooms: []string{"lobby"}}))
	assert.Equal(t, []int{1, 2, 3}, members(r, BroadcastOptions{Rooms: []string{"lobby", "own-1", "own-3"}}), "each member once")
	assert.Equal(t, []int{2}, members(r, BroadcastOptions{Rooms: []string{"lobby"}, Except: []string{"own-1"}}))
	assert.Equal(t, []int{3}, members(r, BroadcastOptions{Except: []string{"lobby"}}))
	assert.Empty(t, members(r, BroadcastOptions{Rooms: []string{"nowhere"}}))

	r.Del(1, "lobby")
	assert.Equal(t, []int{2}, members(r, BroadcastOptions{Rooms: []string{"lobby"}}))
	r.Add(4, "lobby")
	assert.Equal(t, []int{2, 4}, members(r, BroadcastOptions{Rooms: []string{"lobby"}}))
	r.DelAll(2)
	r.DelAll(4)
	assert.Equal(t, 0, r.RoomLen("lobby"))
	assert.NotContains(t, r.AllRooms(), "lobby", "an emptied room disappears")
	r.Del(3, "own-3")
	assert.NotContains(t, r.AllRooms(), "own-3")
	assert.ElementsMatch(t, []string{"own-1"}, r.AllRooms())

	// Stopping early works in both forms of a room.
	r.Add(5, "big")
	r.Add(6, "big")
	n := 0
	r.Each(BroadcastOptions{Rooms: []string{"own-1", "big"}}, func(int) bool { n++; return false })
	assert.Equal(t, 1, n)
}
