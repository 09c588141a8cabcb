package client

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/sio-go/sio/engine/packet"
)

// Defaults of Config, those of the reference client.
const (
	// DefaultReconnectionDelay is the default Config.ReconnectionDelay.
	DefaultReconnectionDelay = time.Second
	// DefaultReconnectionDelayMax is the default Config.ReconnectionDelayMax.
	DefaultReconnectionDelayMax = 5 * time.Second
	// DefaultRandomizationFactor is the default Config.RandomizationFactor.
	DefaultRandomizationFactor = 0.5
	// DefaultTimeout is the default Config.Timeout.
	DefaultTimeout = 20 * time.Second
)

// Config configures a Manager and its Sockets. WithDefaults fills the zero
// fields with the reference client's defaults; New applies it.
type Config struct {
	// DisableReconnection turns automatic reconnection off (the reference's
	// reconnection: false).
	DisableReconnection bool
	// ReconnectionAttempts caps the reconnection attempts in a row before
	// EventReconnectFailed. 0 means no limit.
	ReconnectionAttempts int
	// ReconnectionDelay is the delay before the first reconnection attempt,
	// doubled at each further one. Default 1s.
	ReconnectionDelay time.Duration
	// ReconnectionDelayMax caps the reconnection delay. Default 5s.
	ReconnectionDelayMax time.Duration
	// RandomizationFactor is the jitter of the reconnection delay, in (0, 1].
	// Default 0.5; a negative value (or one above 1, as in the reference)
	// disables the jitter.
	RandomizationFactor float64
	// Timeout bounds the opening of the engine; past it the attempt is closed
	// and counts as failed. Default 20s; negative disables it.
	Timeout time.Duration
	// AckTimeout is the default time to wait for the acknowledgement of an
	// emit with an ack. 0 means no timeout.
	AckTimeout time.Duration
	// Retries is how many times a non-volatile emit is sent again when its
	// acknowledgement does not come in AckTimeout (or the socket disconnects).
	// When positive, such emits go through a queue and are sent one at a time,
	// in order, each waiting for its acknowledgement. 0 disables the queue.
	Retries int
	// Rand returns a float in [0, 1), for the jitter. Default: math/rand/v2.
	Rand func() float64
	// Limits bound what the decoder accepts from the server.
	Limits packet.Limits
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.ReconnectionAttempts < 0 {
		c.ReconnectionAttempts = 0
	}
	if c.ReconnectionDelay <= 0 {
		c.ReconnectionDelay = DefaultReconnectionDelay
	}
	if c.ReconnectionDelayMax <= 0 {
		c.ReconnectionDelayMax = DefaultReconnectionDelayMax
	}
	if c.RandomizationFactor == 0 {
		c.RandomizationFactor = DefaultRandomizationFactor
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.AckTimeout < 0 {
		c.AckTimeout = 0
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// Backoff returns the delay before reconnection attempt number attempt
// (counted from 0) for the random value r in [0, 1), by the reference
// formula: ms = delay * 2^attempt; deviation = floor(r * factor * ms);
// ms -= deviation when floor(r*10) is even, else ms += deviation; the result is
// capped at ReconnectionDelayMax and truncated to whole milliseconds.
// c must have its defaults filled.
func (c *Config) Backoff(attempt int, r float64) time.Duration {
	ms := float64(c.ReconnectionDelay) / float64(time.Millisecond) * math.Pow(2, float64(attempt))
	if math.IsInf(ms, 0) || math.IsNaN(ms) {
		ms = math.MaxFloat64
	}
	if j := c.RandomizationFactor; j > 0 && j <= 1 {
		deviation := math.Floor(r * j * ms)
		if int64(math.Floor(r*10))&1 == 0 {
			ms -= deviation
		} else {
			ms += deviation
		}
	}
	limit := float64(c.ReconnectionDelayMax) / float64(time.Millisecond)
	if !(ms < limit) { // also catches NaN
		ms = limit
	}
	if ms < 0 {
		ms = 0
	}
	return time.Duration(int64(ms)) * time.Millisecond
}
