package sio

import (
	"errors"

	"github.com/sio-go/sio/engine/eio"
	"github.com/sio-go/sio/engine/packet"
)

// logClose records why a connection ended. A client that broke the
// protocol (malformed or reserved packets, JSON nested too deep, an
// attachment bomb) and a client dropped as a slow consumer are told
// nothing by the protocol, which only closes the connection: the log is
// where the reason goes, at Warn. Other ends (the client left, the network
// failed) are routine, at Debug.
func (c *Conn) logClose(reason string, err error) {
	if err == nil {
		return
	}
	var pe *packet.Error
	var ee *eio.Error
	switch {
	case errors.As(err, &pe) && pe.Remote, errors.As(err, &ee) && ee.Remote:
		c.srv.log.Warn("sio: connection closed: the client broke the protocol",
			"sid", c.id, "address", c.hs.Address, "reason", reason, "err", err)
	case errors.Is(err, eio.ErrPayloadTooLarge):
		c.srv.log.Warn("sio: connection closed: slow consumer",
			"sid", c.id, "address", c.hs.Address, "reason", reason, "err", err)
	default:
		c.srv.log.Debug("sio: connection closed", "sid", c.id, "address", c.hs.Address, "reason", reason, "err", err)
	}
}
