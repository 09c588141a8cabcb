//go:build race

package soak

// raceEnabled: the race detector slows everything ~10x; the soak scales down.
const raceEnabled = true
