// Package plugins will run server-side event handlers compiled to
// WebAssembly, sandboxed under wazero, with a guest SDK. Not implemented yet;
// see the project issues.
package plugins
