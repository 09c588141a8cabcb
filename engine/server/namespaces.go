package server

import (
	"errors"
	"strings"
)

// ErrBadNamespaceName is returned for a namespace name not starting with "/".
var ErrBadNamespaceName = errors.New("server: namespace name must start with /")

// MatchFunc decides whether a dynamic namespace accepts name, given the
// CONNECT auth payload (raw JSON, nil when absent).
type MatchFunc func(name string, auth []byte) bool

type dynamicNamespace[T any] struct {
	match  MatchFunc
	create func(name string) T
}

// Namespaces resolves namespace names to values of T: static names, and
// dynamic ones created the first time a matcher accepts a name (the child is
// then kept as a static name until Remove). It is not safe for concurrent use.
type Namespaces[T any] struct {
	static  map[string]T
	dynamic []dynamicNamespace[T]
	limit   int
}

// NewNamespaces returns an empty registry. maxChildren bounds the dynamic
// children alive at once (0: unbounded), so clients connecting to thousands of
// names cannot grow the server without limit.
func NewNamespaces[T any](maxChildren int) *Namespaces[T] {
	return &Namespaces[T]{static: make(map[string]T), limit: maxChildren}
}

// Add registers a static namespace.
func (n *Namespaces[T]) Add(name string, v T) error {
	if !strings.HasPrefix(name, "/") {
		return ErrBadNamespaceName
	}
	n.static[name] = v
	return nil
}

// AddDynamic registers a matcher; create builds the value for each new child.
// Matchers are tried in the order they were added.
func (n *Namespaces[T]) AddDynamic(match MatchFunc, create func(name string) T) {
	n.dynamic = append(n.dynamic, dynamicNamespace[T]{match: match, create: create})
}

// Get returns the namespace registered under name, without creating one.
func (n *Namespaces[T]) Get(name string) (T, bool) {
	v, ok := n.static[name]
	return v, ok
}

// Lookup resolves name: a registered namespace, or a new child of the first
// dynamic matcher that accepts it (created reports that). ok is false for an
// unknown namespace, which the client gets as "Invalid namespace".
func (n *Namespaces[T]) Lookup(name string, auth []byte) (v T, created, ok bool) {
	if v, ok := n.static[name]; ok {
		return v, false, true
	}
	if n.limit > 0 && len(n.static) >= n.limit {
		return v, false, false
	}
	for _, d := range n.dynamic {
		if d.match(name, auth) {
			v = d.create(name)
			n.static[name] = v
			return v, true, true
		}
	}
	return v, false, false
}

// Remove forgets name (an emptied dynamic child).
func (n *Namespaces[T]) Remove(name string) { delete(n.static, name) }

// Len returns the number of registered namespaces.
func (n *Namespaces[T]) Len() int { return len(n.static) }
