package main

import (
	"encoding/json"

	sio "github.com/sio-go/sio"
)

// installBuiltin serves, in native Go, what the example plugins serve (chat
// with rooms as examples/plugins/chat, echo as examples/plugins/echo). It is
// sio-host's behaviour when no plugin is configured, and the native side of
// the plugin benchmarks.
func installBuiltin(srv *sio.Server, chat bool) {
	const lobby = "lobby"
	srv.OnConnection(func(s *sio.Socket) {
		_ = s.On("echo", func(args sio.Args, ack sio.Ack) {
			if ack != nil {
				_ = ack(args.Values()...)
				return
			}
			_ = s.Emit("echo", args.Values()...)
		})
		if !chat {
			return
		}
		var nick string
		var auth struct {
			Nick string `json:"nick"`
		}
		if err := json.Unmarshal(s.Handshake().Auth, &auth); err == nil && auth.Nick != "" && len(auth.Nick) <= 64 {
			nick = auth.Nick
		}
		s.Join(lobby)
		_ = s.On("join", func(room string, ack sio.Ack) {
			if room != "" {
				s.Join(room)
			}
			if ack != nil {
				_ = ack(s.Rooms())
			}
		})
		_ = s.On("leave", func(room string, ack sio.Ack) {
			s.Leave(room)
			if ack != nil {
				_ = ack(s.Rooms())
			}
		})
		_ = s.On("nick", func(name string, ack sio.Ack) {
			if name == "" || len(name) > 64 {
				if ack != nil {
					_ = ack(map[string]any{"error": "nick must be a string of 1 to 64 bytes"})
				}
				return
			}
			nick = name
			if ack != nil {
				_ = ack(map[string]any{"nick": nick})
			}
		})
		_ = s.On("chat", func(room, text string, ack sio.Ack) {
			msg := map[string]any{"room": room, "from": s.ID(), "text": text}
			if nick != "" {
				msg["nick"] = nick
			}
			_ = s.Namespace().To(room).Emit("chat", msg)
			if ack != nil {
				_ = ack(true)
			}
		})
		s.OnDisconnect(func(reason string) {
			if nick != "" {
				_ = s.Namespace().To(lobby).Emit("left", map[string]any{"from": s.ID(), "nick": nick, "reason": reason})
			}
		})
	})
}
