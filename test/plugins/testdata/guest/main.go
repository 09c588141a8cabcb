// A test plugin that exercises every host function through the Go SDK.
// Build with -ldflags "-X main.version=v2" to get a second version (hot
// reload tests).
package main

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	sio "github.com/sio-go/sio/plugins/guest"
)

var version = "v1"

func str(args sio.Args, i int) string {
	s, _ := args.String(i)
	return s
}

func init() {
	sio.OnConnect(func(s sio.Socket, hs sio.Handshake) error {
		if v, _ := hs.AuthString("deny"); v == "yes" {
			return &sio.ConnectError{Message: "denied", Data: sio.JSON(`{"code":42}`)}
		}
		if v, _ := hs.AuthString("trap"); v == "yes" {
			panic("asked to trap in connect")
		}
		if err := s.SetData("greeting", []byte("hello "+hs.Query("who"))); err != nil {
			return err
		}
		_ = s.Join("members")
		return s.Emit("welcome", s.ID(), version, hs.Address() != "")
	})
	sio.On("version", func(s sio.Socket, args sio.Args) { _ = s.Ack(version) })
	sio.On("now", func(s sio.Socket, args sio.Args) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		start := time.Now()
		time.Sleep(5 * time.Millisecond)
		_ = s.Ack(time.Now().UnixMilli(), hex.EncodeToString(b), time.Since(start).Milliseconds())
	})
	sio.On("echo", func(s sio.Socket, args sio.Args) { _ = s.Ack(args.Raw()) })
	sio.On("greeting", func(s sio.Socket, args sio.Args) {
		g, _ := s.Data("greeting")
		_ = s.Ack(string(g))
	})
	sio.On("set", func(s sio.Socket, args sio.Args) {
		if err := s.SetData(str(args, 0), []byte(str(args, 1))); err != nil {
			_ = s.Ack(err.Error())
			return
		}
		_ = s.Ack("ok")
	})
	sio.On("get", func(s sio.Socket, args sio.Args) {
		if v, ok := s.Data(str(args, 0)); ok {
			_ = s.Ack(string(v))
			return
		}
		_ = s.Ack(nil)
	})
	sio.On("count", func(s sio.Socket, args sio.Args) {
		n := 0
		if v, ok := s.Data("count"); ok {
			n, _ = strconv.Atoi(string(v))
		}
		n++
		_ = s.SetData("count", []byte(strconv.Itoa(n)))
		_ = s.Ack(n)
	})
	sio.On("set-then-trap", func(s sio.Socket, args sio.Args) {
		_ = s.SetData("count", []byte("1000"))
		panic("the data set before this panic must not stick")
	})
	sio.On("bigdata", func(s sio.Socket, args sio.Args) {
		err := s.SetData("big", make([]byte, 100<<10))
		_ = s.Ack(err != nil && err == sio.ErrLimit)
	})
	sio.On("rooms", func(s sio.Socket, args sio.Args) { _ = s.Ack(s.Rooms()) })
	sio.On("join", func(s sio.Socket, args sio.Args) {
		_ = s.Join(str(args, 0))
		_ = s.Ack(s.Rooms())
	})
	sio.On("leave", func(s sio.Socket, args sio.Args) {
		_ = s.Leave(str(args, 0))
		_ = s.Ack(s.Rooms())
	})
	sio.On("to", func(s sio.Socket, args sio.Args) { _ = s.To(str(args, 0)).Emit("msg", "to", str(args, 1)) })
	sio.On("nsp-to", func(s sio.Socket, args sio.Args) { _ = s.Nsp().To(str(args, 0)).Emit("msg", "nsp-to", str(args, 1)) })
	sio.On("broadcast", func(s sio.Socket, args sio.Args) { _ = s.Broadcast().Emit("msg", "broadcast", str(args, 0)) })
	sio.On("all", func(s sio.Socket, args sio.Args) { _ = s.Nsp().Emit("msg", "all", str(args, 0)) })
	sio.On("self", func(s sio.Socket, args sio.Args) { _ = s.Emit("msg", "self", str(args, 0)) })
	sio.On("binary", func(s sio.Socket, args sio.Args) {
		_ = s.Emit("bin", []byte{1, 2, 3}, sio.Object{"nested", []byte{4}}, args.Raw())
		_ = s.Ack(true)
	})
	sio.On("config", func(s sio.Socket, args sio.Args) { _ = s.Ack(sio.JSON(sio.Config())) })
	sio.On("log", func(s sio.Socket, args sio.Args) {
		sio.Warn("guest says " + str(args, 0))
		_ = s.Ack(true)
	})
	sio.On("decline", func(s sio.Socket, args sio.Args) { s.Decline() })
	sio.On("kick", func(s sio.Socket, args sio.Args) { _ = s.Disconnect(false) })
	sio.On("reserved", func(s sio.Socket, args sio.Args) {
		err := s.Emit("disconnect")
		_ = s.Ack(err == sio.ErrInvalid)
	})
	sio.OnDisconnect(func(s sio.Socket, reason string) {
		_ = s.Nsp().To("members").Emit("gone", s.ID(), reason)
	})
}

func main() {}
