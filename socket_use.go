package sio

// Use adds per-packet middleware, the reference's socket.use: fn sees each
// incoming event (after the OnAny observers) before the interceptors and
// handlers added after it. An error stops the event: no later middleware or
// handler runs, and the error goes to the socket's OnError handlers (or to
// the log when there are none). The client is not told; an ack it waits for
// does not come.
func (s *Socket) Use(fn func(ev *Event) error) {
	s.Intercept(func(ev *Event) bool {
		if err := fn(ev); err != nil {
			s.reportError(err)
			return true
		}
		return false
	})
}

// OnError registers a handler for errors raised by per-packet middleware.
func (s *Socket) OnError(fn func(error)) {
	s.mu.Lock()
	s.onErr = append(s.onErr, fn)
	s.mu.Unlock()
}

func (s *Socket) reportError(err error) {
	s.mu.Lock()
	handlers := s.onErr
	s.mu.Unlock()
	if len(handlers) == 0 {
		s.conn.srv.log.Warn("sio: event refused by middleware", "socket", s.id, "nsp", s.name, "err", err)
		return
	}
	for _, fn := range handlers {
		s.safely(func() { fn(err) })
	}
}
