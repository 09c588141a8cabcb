package plugins

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds, in seconds, of the latency
// histogram buckets (a last bucket, +Inf, holds the rest).
var LatencyBounds = []float64{5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 10e-3, 25e-3, 100e-3, 250e-3}

type histogram struct {
	buckets [14]atomic.Uint64 // len(LatencyBounds)+1
	count   atomic.Uint64
	sumNS   atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBounds) && s > LatencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.sumNS.Add(uint64(d))
}

type pluginStats struct {
	calls        [4]atomic.Uint64
	latency      [4]histogram
	errors       [len(errorKinds)]atomic.Uint64
	declined     atomic.Uint64
	reloads      atomic.Uint64
	reloadErrors atomic.Uint64
	logsDropped  atomic.Uint64
	instances    atomic.Uint64 // created
}

func (s *pluginStats) observe(hook int, d time.Duration, res *result) {
	if res.skipped {
		return
	}
	s.calls[hook].Add(1)
	s.latency[hook].observe(d)
	if res.err != nil {
		for i, k := range errorKinds {
			if k == res.kind {
				s.errors[i].Add(1)
			}
		}
	}
}

// Histogram is a latency histogram: Counts[i] calls took at most
// LatencyBounds[i] seconds (and more than the previous bound); the last
// count is beyond the last bound.
type Histogram struct {
	Counts []uint64
	Count  uint64
	Sum    float64 // seconds
}

// Stats are a plugin's counters since it was loaded.
type Stats struct {
	Calls            map[string]uint64    // by hook: connect, event, disconnect
	Latency          map[string]Histogram // by hook, acquiring an instance included
	Errors           map[ErrorKind]uint64
	Declined         uint64 // events the plugin declined after being called
	Reloads          uint64
	ReloadErrors     uint64
	LogsDropped      uint64 // log calls over the per-call cap
	InstancesCreated uint64
	Instances        int // alive now, in the current code's pool
	Generation       int64
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	s := &p.stats
	out := Stats{
		Calls:            map[string]uint64{},
		Latency:          map[string]Histogram{},
		Errors:           map[ErrorKind]uint64{},
		Declined:         s.declined.Load(),
		Reloads:          s.reloads.Load(),
		ReloadErrors:     s.reloadErrors.Load(),
		LogsDropped:      s.logsDropped.Load(),
		InstancesCreated: s.instances.Load(),
		Generation:       p.gen.Load(),
	}
	for h := kindConnect; h <= kindDisconnect; h++ {
		name := hookNames[h]
		out.Calls[name] = s.calls[h].Load()
		hist := Histogram{Counts: make([]uint64, len(s.latency[h].buckets))}
		for i := range hist.Counts {
			hist.Counts[i] = s.latency[h].buckets[i].Load()
		}
		hist.Count = s.latency[h].count.Load()
		hist.Sum = float64(s.latency[h].sumNS.Load()) / float64(time.Second)
		out.Latency[name] = hist
	}
	for i, k := range errorKinds {
		out.Errors[k] = s.errors[i].Load()
	}
	if v := p.cur.Load(); v != nil {
		out.Instances = int(v.live.Load())
	}
	return out
}
