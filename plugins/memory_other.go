//go:build !linux

package plugins

import "github.com/tetratelabs/wazero/experimental"

// memoryAllocator is wazero's default elsewhere (see memory_linux.go).
var memoryAllocator experimental.MemoryAllocator
