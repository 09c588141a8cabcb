package plugins

import (
	"context"
	"crypto/sha256"
	"os"
	"time"
)

// Watch reloads plugins loaded with LoadFile when their file changes: it
// checks every interval, and reloads a file once its size and modification
// time held still for one interval (so that a file being written is not
// read half-way). A reload that fails is logged and the old code keeps
// serving. Watch returns when ctx ends.
func (h *Host) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range h.Plugins() {
			if p.path != "" {
				p.checkFile(ctx)
			}
		}
	}
}

func (p *Plugin) checkFile(ctx context.Context) {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	st, err := os.Stat(p.path)
	if err != nil {
		return // being replaced; look again later
	}
	seen := fileSig{size: st.Size(), mod: st.ModTime()}
	if seen.size == p.file.size && seen.mod.Equal(p.file.mod) {
		p.pending = p.file
		return
	}
	if seen.size != p.pending.size || !seen.mod.Equal(p.pending.mod) {
		p.pending = seen // changed: wait until it holds still
		return
	}
	wasm, err := os.ReadFile(p.path)
	if err != nil {
		return
	}
	seen.sum = sha256.Sum256(wasm)
	prev := p.file
	p.file, p.pending = seen, seen
	if seen.sum == prev.sum {
		return // touched, not changed
	}
	if err := p.reloadLocked(ctx, wasm); err != nil {
		p.host.log.Error("plugin reload failed; the previous code keeps serving", "plugin", p.name, "path", p.path, "err", err)
	}
}
