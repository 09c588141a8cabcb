package server

import "encoding/json"

// ConnectError refuses a CONNECT: the client gets a CONNECT_ERROR packet with
// Message and, when set, Data (raw JSON), as the reference does for an Error
// with a data property passed to next().
type ConnectError struct {
	Message string
	Data    json.RawMessage
}

func (e *ConnectError) Error() string { return e.Message }

// Middleware inspects a connecting socket (of type S) and returns an error to
// refuse it.
type Middleware[S any] func(s S) error

// Chain is an ordered list of connect middleware.
type Chain[S any] []Middleware[S]

// Run calls each middleware in order and stops at the first error.
func (c Chain[S]) Run(s S) error {
	for _, m := range c {
		if err := m(s); err != nil {
			return err
		}
	}
	return nil
}

// Refusal returns the CONNECT_ERROR message and data for a middleware error:
// a *ConnectError as it is, any other error by its text.
func Refusal(err error) (message string, data []byte) {
	if ce, ok := err.(*ConnectError); ok {
		return ce.Message, ce.Data
	}
	return err.Error(), nil
}
