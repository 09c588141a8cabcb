// Plugin chat is a chat with rooms: every socket joins the lobby on
// connect; "join" and "leave" (room, ack) change rooms and ack the socket's
// rooms; "nick" (name, ack) names the socket; "chat" (room, text) sends
// {room, from, nick, text} to everyone in the room, sender included. Config:
// {"lobby": "room name", "max_text": bytes (default 1 MiB: the browser example sends files as base64 text)}.
package main

import (
	"strconv"

	sio "github.com/sio-go/sio/plugins/guest"
)

var (
	lobby   = "lobby"
	maxText = 1 << 20
)

func init() {
	sio.OnInit(func() error {
		conf := sio.Config()
		if v, ok := sio.ConfigString(conf, "lobby"); ok && v != "" {
			lobby = v
		}
		if v, ok := sio.ConfigString(conf, "max_text"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				maxText = n
			}
		}
		return nil
	})
	sio.OnConnect(func(s sio.Socket, hs sio.Handshake) error {
		if nick, ok := hs.AuthString("nick"); ok && nick != "" {
			_ = s.SetData("nick", []byte(nick))
		}
		return s.Join(lobby)
	})
	sio.On("join", func(s sio.Socket, args sio.Args) {
		if room, ok := args.String(0); ok && room != "" {
			_ = s.Join(room)
		}
		_ = s.Ack(s.Rooms())
	})
	sio.On("leave", func(s sio.Socket, args sio.Args) {
		if room, ok := args.String(0); ok {
			_ = s.Leave(room)
		}
		_ = s.Ack(s.Rooms())
	})
	sio.On("nick", func(s sio.Socket, args sio.Args) {
		nick, ok := args.String(0)
		if !ok || nick == "" || len(nick) > 64 {
			_ = s.Ack(sio.Object{"error", "nick must be a string of 1 to 64 bytes"})
			return
		}
		_ = s.SetData("nick", []byte(nick))
		_ = s.Ack(sio.Object{"nick", nick})
	})
	sio.On("chat", func(s sio.Socket, args sio.Args) {
		room, ok1 := args.String(0)
		text, ok2 := args.String(1)
		if !ok1 || !ok2 || len(text) > maxText {
			_ = s.Ack(sio.Object{"error", "chat takes a room and a text"})
			return
		}
		msg := sio.Object{"room", room, "from", s.ID(), "text", text}
		if nick, ok := s.Data("nick"); ok {
			msg = append(msg, "nick", string(nick))
		}
		_ = s.Nsp().To(room).Emit("chat", msg)
		_ = s.Ack(true)
	})
	sio.OnDisconnect(func(s sio.Socket, reason string) {
		if nick, ok := s.Data("nick"); ok {
			_ = s.Nsp().To(lobby).Emit("left", sio.Object{"from", s.ID(), "nick", string(nick), "reason", reason})
		}
	})
}

func main() {}
