package plugins

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// hasWasmBuildTool reports whether cmd/sio-wasm has its build tool (a main
// with a body, as opposed to the placeholder `func main() {}`).
func hasWasmBuildTool() bool {
	files, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "sio-wasm", "*.go"))
	re := regexp.MustCompile(`(?m)^func main\(\) \{$`)
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && re.Match(b) {
			return true
		}
	}
	return false
}

// TestWasmClientInChromium: the chat example page (examples/browser) on the
// wasm client (cmd/sio-wasm), in two headless Chromium pages, against
// sio-host serving the example plugins; see chromium.test.mjs.
func TestWasmClientInChromium(t *testing.T) {
	if !hasWasmBuildTool() {
		t.Skip("cmd/sio-wasm cannot build sio.wasm yet (no build tool): the wasm client part is skipped")
	}
	node := findNode(t)
	chromium := os.Getenv("SIO_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		skipOrFatal(t, "chromium not found at %s; `apt-get install chromium` (or set SIO_CHROMIUM)", chromium)
	}
	playwright := filepath.Join("..", "browser", "node_modules", "playwright-core", "package.json")
	if _, err := os.Stat(playwright); err != nil {
		skipOrFatal(t, "test/browser/node_modules/playwright-core is missing; run `npm ci` in test/browser")
	}
	a := build(t)

	// The example site with a freshly built client under sio/.
	site := filepath.Join(t.TempDir(), "site")
	src := filepath.Join("..", "..", "examples", "browser")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel == "sio" {
				return filepath.SkipDir // a stale local build
			}
			return os.MkdirAll(filepath.Join(site, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(site, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	cmd := exec.Command("go", "run", "./cmd/sio-wasm", "-o", filepath.Join(site, "sio"))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("sio.wasm cannot be built (%v), the wasm client part is skipped:\n%s", err, out)
	}
	t.Logf("built sio.wasm in %v", time.Since(start).Round(time.Millisecond))

	h := startHost(t, a, `{"namespaces": {"/": [{"plugin": "chat"}, {"plugin": "echo", "events": ["echo"]}]}}`, "-static", site)
	artifacts := filepath.Join(t.TempDir(), "artifacts")
	_ = os.MkdirAll(artifacts, 0o755)
	runNode(t, node, "chromium.test.mjs", "SIO_HOST_URL="+h.url, "SIO_CHROMIUM="+chromium, "SIO_ARTIFACTS="+artifacts)
}
