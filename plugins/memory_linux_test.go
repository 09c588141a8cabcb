package plugins

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMappedMemory(t *testing.T) {
	m := newMappedMemory(0, 4<<20)
	b := m.Reallocate(64 << 10)
	require.Len(t, b, 64<<10)
	b[len(b)-1] = 7
	grown := m.Reallocate(1 << 20)
	require.Len(t, grown, 1<<20)
	assert.Equal(t, byte(7), grown[64<<10-1], "growing keeps the contents in place")
	assert.Same(t, &b[0], &grown[0], "growing does not move the memory")
	grown[len(grown)-1] = 1
	assert.Nil(t, m.Reallocate(8<<20), "beyond the reservation")
	m.Free()

	h := newMappedMemory(0, 0) // a memory whose maximum is zero pages
	assert.Empty(t, h.Reallocate(0))
	h.Free()
}
