//go:build linux

package main

import (
	"slices"
	"time"
)

// hist keeps every latency sample of one client; a polling run records a
// few thousand per client, so exact quantiles cost little.
type hist struct {
	samples []time.Duration
	max     time.Duration
	sum     time.Duration
}

func (h *hist) record(ns int64) {
	d := time.Duration(ns)
	h.samples = append(h.samples, d)
	h.sum += d
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	h.samples = append(h.samples, o.samples...)
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (nearest rank) in nanoseconds; it sorts
// the samples on first use after a change.
func (h *hist) quantile(q float64) uint64 {
	if len(h.samples) == 0 {
		return 0
	}
	if !slices.IsSorted(h.samples) {
		slices.Sort(h.samples)
	}
	i := int(q*float64(len(h.samples))+0.5) - 1
	i = min(max(i, 0), len(h.samples)-1)
	return uint64(h.samples[i])
}

func (h *hist) mean() float64 {
	if len(h.samples) == 0 {
		return 0
	}
	return float64(h.sum) / float64(len(h.samples))
}
