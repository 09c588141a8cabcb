package main

import (
	"bufio"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/plugins"
)

// metricsHandler serves /metrics in the Prometheus text exposition format
// (version 0.0.4).
func metricsHandler(srv *sio.Server, host *plugins.Host) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		writeMetrics(bw, srv, host)
		_ = bw.Flush()
	}
}

type promWriter struct {
	w       *bufio.Writer
	started map[string]bool
}

func (p *promWriter) head(name, typ, help string) {
	if p.started[name] {
		return
	}
	p.started[name] = true
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (p *promWriter) sample(name string, labels []string, v float64) {
	p.w.WriteString(name)
	if len(labels) > 0 {
		p.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.w.WriteByte(',')
			}
			p.w.WriteString(labels[i])
			p.w.WriteString(`="`)
			p.w.WriteString(escapeLabel(labels[i+1]))
			p.w.WriteByte('"')
		}
		p.w.WriteByte('}')
	}
	p.w.WriteByte(' ')
	p.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	p.w.WriteByte('\n')
}

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func writeMetrics(w *bufio.Writer, srv *sio.Server, host *plugins.Host) {
	p := &promWriter{w: w, started: map[string]bool{}}
	p.head("sio_connections", "gauge", "Open Engine.IO connections.")
	p.sample("sio_connections", nil, float64(srv.ConnCount()))
	t := sio.Traffic()
	p.head("sio_packets_total", "counter", "Engine.IO packets through the transports, by direction.")
	p.sample("sio_packets_total", []string{"direction", "in"}, float64(t.PacketsIn))
	p.sample("sio_packets_total", []string{"direction", "out"}, float64(t.PacketsOut))
	p.head("sio_bytes_total", "counter", "Engine.IO bytes through the transports, by direction.")
	p.sample("sio_bytes_total", []string{"direction", "in"}, float64(t.BytesIn))
	p.sample("sio_bytes_total", []string{"direction", "out"}, float64(t.BytesOut))

	hooks := []string{"connect", "event", "disconnect"}
	kinds := []plugins.ErrorKind{plugins.KindTrap, plugins.KindTimeout, plugins.KindLimit, plugins.KindFailed, plugins.KindUnavailable}
	list := host.Plugins()
	stats := make([]plugins.Stats, len(list))
	for i, pl := range list {
		stats[i] = pl.Stats()
	}
	p.head("sio_plugin_calls_total", "counter", "Plugin hook calls, by plugin and hook.")
	for i, pl := range list {
		for _, h := range hooks {
			p.sample("sio_plugin_calls_total", []string{"plugin", pl.Name(), "hook", h}, float64(stats[i].Calls[h]))
		}
	}
	p.head("sio_plugin_errors_total", "counter", "Failed plugin calls, by plugin and kind (trap, timeout, limit, failed, unavailable).")
	for i, pl := range list {
		for _, k := range kinds {
			p.sample("sio_plugin_errors_total", []string{"plugin", pl.Name(), "kind", string(k)}, float64(stats[i].Errors[k]))
		}
	}
	p.head("sio_plugin_declined_total", "counter", "Events a plugin declined (passed on to the next handler).")
	for i, pl := range list {
		p.sample("sio_plugin_declined_total", []string{"plugin", pl.Name()}, float64(stats[i].Declined))
	}
	p.head("sio_plugin_call_duration_seconds", "histogram", "Plugin call latency, waiting for an instance included.")
	for i, pl := range list {
		for _, h := range hooks {
			hist := stats[i].Latency[h]
			var cum uint64
			for b, n := range hist.Counts {
				cum += n
				le := "+Inf"
				if b < len(plugins.LatencyBounds) {
					le = strconv.FormatFloat(plugins.LatencyBounds[b], 'g', -1, 64)
				}
				p.sample("sio_plugin_call_duration_seconds_bucket", []string{"plugin", pl.Name(), "hook", h, "le", le}, float64(cum))
			}
			p.sample("sio_plugin_call_duration_seconds_sum", []string{"plugin", pl.Name(), "hook", h}, hist.Sum)
			p.sample("sio_plugin_call_duration_seconds_count", []string{"plugin", pl.Name(), "hook", h}, float64(hist.Count))
		}
	}
	p.head("sio_plugin_instances", "gauge", "Live instances of the plugin's current code.")
	for i, pl := range list {
		p.sample("sio_plugin_instances", []string{"plugin", pl.Name()}, float64(stats[i].Instances))
	}
	p.head("sio_plugin_instances_created_total", "counter", "Instances created (a failure discards its instance).")
	for i, pl := range list {
		p.sample("sio_plugin_instances_created_total", []string{"plugin", pl.Name()}, float64(stats[i].InstancesCreated))
	}
	p.head("sio_plugin_reloads_total", "counter", "Hot reloads, by result.")
	for i, pl := range list {
		p.sample("sio_plugin_reloads_total", []string{"plugin", pl.Name(), "result", "ok"}, float64(stats[i].Reloads))
		p.sample("sio_plugin_reloads_total", []string{"plugin", pl.Name(), "result", "error"}, float64(stats[i].ReloadErrors))
	}
	p.head("sio_plugin_generation", "gauge", "Code generation of the plugin (1 at load, +1 per reload).")
	for i, pl := range list {
		p.sample("sio_plugin_generation", []string{"plugin", pl.Name()}, float64(stats[i].Generation))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.head("go_goroutines", "gauge", "Goroutines.")
	p.sample("go_goroutines", nil, float64(runtime.NumGoroutine()))
	p.head("go_memstats_heap_inuse_bytes", "gauge", "Heap bytes in use.")
	p.sample("go_memstats_heap_inuse_bytes", nil, float64(ms.HeapInuse))
	p.head("go_memstats_sys_bytes", "gauge", "Bytes obtained from the OS.")
	p.sample("go_memstats_sys_bytes", nil, float64(ms.Sys))
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
