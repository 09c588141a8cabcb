package sio

import "time"

// NamespaceCount returns how many namespaces the server holds: static ones
// and live dynamic children.
func NamespaceCount(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nsps.Len()
}

// ChildCount returns how many children a dynamic parent namespace holds.
func ChildCount(parent *Namespace) int {
	parent.mu.Lock()
	defer parent.mu.Unlock()
	return len(parent.children)
}

// SetShutdownPollGrace sets how long Shutdown waits for absent polling
// clients, and returns a function that restores it.
func SetShutdownPollGrace(d time.Duration) (restore func()) {
	old := shutdownPollGrace
	shutdownPollGrace = d
	return func() { shutdownPollGrace = old }
}
