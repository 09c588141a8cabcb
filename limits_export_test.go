package sio

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
