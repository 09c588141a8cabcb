package tcpframe

import "time"

// Timer is the one timer of a state machine (or of a run loop owning
// several). After each input the run loop re-arms it at the machine's
// Deadline; when it fires, fire runs on the timer's goroutine and must only
// post a "timer fired" input to the run loop, which then calls HandleTimeout.
//
// Arm and Fired are called on the run loop only.
type Timer struct {
	t  *time.Timer
	at time.Time // when t is armed for; zero when stopped or fired
}

// NewTimer returns a stopped timer that calls fire when it expires.
func NewTimer(fire func()) *Timer {
	t := time.AfterFunc(time.Hour, fire)
	t.Stop()
	return &Timer{t: t}
}

// Arm sets the timer to expire at deadline when ok, and stops it otherwise:
// pass it the results of a Deadline method.
//
// A stale expiry (the deadline moved later after the timer fired) is
// harmless: HandleTimeout at a time when nothing is due does nothing.
func (t *Timer) Arm(now, deadline time.Time, ok bool) {
	switch {
	case !ok:
		t.t.Stop()
		t.at = time.Time{}
	case !deadline.Equal(t.at):
		t.at = deadline
		t.t.Reset(deadline.Sub(now))
	}
}

// Fired records that the timer went off: the next Arm re-arms it even for
// the same deadline.
func (t *Timer) Fired() { t.at = time.Time{} }

// Stop stops the timer for good.
func (t *Timer) Stop() {
	t.t.Stop()
	t.at = time.Time{}
}

// Earliest returns the earlier of two deadlines, each given as the results
// of a Deadline method.
func Earliest(a time.Time, aok bool, b time.Time, bok bool) (time.Time, bool) {
	if !aok || (bok && b.Before(a)) {
		return b, bok
	}
	return a, true
}
