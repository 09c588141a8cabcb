// Package demo is the application of the custom-transport example: the
// namespace "/" with a middleware and three events. The server binary and
// the end-to-end test both install it on a tcpframe.Server.
package demo

import (
	"encoding/json"
	"strconv"

	"github.com/sio-go/sio/engine/packet"
	"github.com/sio-go/sio/engine/server"
	"github.com/sio-go/sio/examples/custom-transport/tcpframe"
)

// Setup installs the demo on the namespace "/" of srv:
//
//   - middleware: a CONNECT with auth {"reject":true} is refused with the
//     message "not authorized" and data {"reason":"rejected by middleware"};
//   - "echo": acks with the same arguments (attachments included), or emits
//     "echo" back with them when no ack is asked;
//   - "join" room: joins room, acks with the socket's rooms;
//   - "chat" room text: emits "chat" sender-id text to every socket in room
//     (the sender too, if it joined), encoded once; acks with the count.
func Setup(srv *tcpframe.Server) {
	nsp := srv.Of("/")
	nsp.Use(func(s *tcpframe.Socket) error {
		var auth struct {
			Reject bool `json:"reject"`
		}
		if len(s.Auth()) > 0 && json.Unmarshal(s.Auth(), &auth) == nil && auth.Reject {
			return &server.ConnectError{Message: "not authorized",
				Data: json.RawMessage(`{"reason":"rejected by middleware"}`)}
		}
		return nil
	})

	nsp.On("echo", func(s *tcpframe.Socket, ev *server.Event) {
		if ev.HasID {
			_ = s.Ack(ev, ev.Args, ev.Attachments)
			return
		}
		_ = s.Emit("echo", ev.Args, ev.Attachments)
	})

	nsp.On("join", func(s *tcpframe.Socket, ev *server.Event) {
		var room string
		if len(ev.Args) < 1 || json.Unmarshal(ev.Args[0], &room) != nil {
			_ = s.Ack(ev, [][]byte{[]byte(`{"error":"join wants a room name"}`)}, nil)
			return
		}
		s.Join(room)
		rooms, _ := json.Marshal(s.Rooms())
		_ = s.Ack(ev, [][]byte{rooms}, nil)
	})

	nsp.On("chat", func(s *tcpframe.Socket, ev *server.Event) {
		var room string
		if len(ev.Args) < 2 || json.Unmarshal(ev.Args[0], &room) != nil {
			_ = s.Ack(ev, [][]byte{[]byte(`{"error":"chat wants a room and a message"}`)}, nil)
			return
		}
		args := [][]byte{packet.AppendString(nil, s.ID()), ev.Args[1]}
		n := s.Namespace().Broadcast(server.BroadcastOptions{Rooms: []string{room}}, "chat", args, ev.Attachments)
		_ = s.Ack(ev, [][]byte{strconv.AppendInt(nil, int64(n), 10)}, nil)
	})
}
