//go:build !js

package main

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed sio.mjs
var loaderJS []byte

//go:embed sio.d.mts
var declarations []byte

func main() {
	out := flag.String("o", filepath.Join("examples", "browser", "sio"), "output directory")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./cmd/sio-wasm [-o dir]\n\nBuilds sio.wasm (GOOS=js GOARCH=wasm) and writes it with sio.mjs, sio.d.mts and wasm_exec.js to dir.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := build(*out); err != nil {
		fmt.Fprintln(os.Stderr, "sio-wasm:", err)
		os.Exit(1)
	}
}

func build(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	wasmPath := filepath.Join(dir, "sio.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", wasmPath, "github.com/sio-go/sio/cmd/sio-wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %v", err)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %v", err)
	}
	root := strings.TrimSpace(string(goroot))
	var execJS []byte
	for _, p := range []string{filepath.Join(root, "lib", "wasm", "wasm_exec.js"), filepath.Join(root, "misc", "wasm", "wasm_exec.js")} {
		if execJS, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("wasm_exec.js not found under %s: %v", root, err)
	}
	for name, data := range map[string][]byte{"wasm_exec.js": execJS, "sio.mjs": loaderJS, "sio.d.mts": declarations} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return printSizes(wasmPath)
}

// printSizes prints the raw, gzip -9 and (when the brotli command is
// installed) brotli -q 11 sizes of the file.
func printSizes(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	gzSize := 0
	if out, err := exec.Command("gzip", "-9", "-c", path).Output(); err == nil {
		gzSize = len(out)
	} else { // no gzip command: compress/gzip, a little larger
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(data)
		_ = w.Close()
		gzSize = gz.Len()
	}
	line := fmt.Sprintf("%s: %d bytes raw, %d gzip -9", path, len(data), gzSize)
	if br, err := exec.Command("brotli", "-q", "11", "-c", path).Output(); err == nil {
		line += fmt.Sprintf(", %d brotli -q 11", len(br))
	} else {
		line += ", brotli: not installed"
	}
	fmt.Println(line)
	return nil
}
