// Plugin faults misbehaves on request, to show (and test) that the host
// contains it: each event below does one bad thing. With config
// {"trap_init": true} it fails while being initialised.
//
//	panic      panics (the Go runtime exits the instance)
//	loop       loops forever (the call deadline stops it)
//	sleep      sleeps for a minute (the call deadline stops it)
//	bomb       allocates until the memory cap is hit
//	flood      emits far more than the per-call byte cap
//	open-file  tries to read /etc/passwd and the current directory; acks what happened
//	read-env   reads the environment and arguments; acks what it saw
//	ok         acks "ok" (the plugin still works)
package main

import (
	"os"
	"strings"
	"time"

	sio "github.com/sio-go/sio/plugins/guest"
)

var hoard [][]byte

func init() {
	sio.OnInit(func() error {
		if v, _ := sio.ConfigString(sio.Config(), "trap_init"); v == "true" {
			var m map[string]int
			m["boom"] = 1 // assignment to a nil map: a runtime panic during init
		}
		return nil
	})
	sio.On("ok", func(s sio.Socket, args sio.Args) { _ = s.Ack("ok") })
	sio.On("panic", func(s sio.Socket, args sio.Args) {
		_ = s.Emit("never", "effects of a failed call are dropped")
		panic("faults: asked to panic")
	})
	sio.On("loop", func(s sio.Socket, args sio.Args) {
		n := 0
		for {
			n++
		}
	})
	sio.On("sleep", func(s sio.Socket, args sio.Args) {
		time.Sleep(time.Minute)
		_ = s.Ack("woke up")
	})
	sio.On("bomb", func(s sio.Socket, args sio.Args) {
		for {
			b := make([]byte, 4<<20)
			for i := 0; i < len(b); i += 64 << 10 {
				b[i] = 1 // touch it
			}
			hoard = append(hoard, b)
		}
	})
	sio.On("flood", func(s sio.Socket, args sio.Args) {
		chunk := sio.JSON(`"` + strings.Repeat("x", 64<<10) + `"`)
		for i := 0; i < 100000; i++ {
			_ = s.Emit("flood", chunk)
		}
		_ = s.Ack("flooded")
	})
	sio.On("open-file", func(s sio.Socket, args sio.Args) {
		_, err1 := os.ReadFile("/etc/passwd")
		_, err2 := os.ReadDir(".")
		_, err3 := os.Create("/tmp/sio-plugin-was-here")
		_ = s.Ack(errText(err1), errText(err2), errText(err3))
	})
	sio.On("read-env", func(s sio.Socket, args sio.Args) {
		_ = s.Ack(os.Environ(), os.Getenv("HOME"), os.Args)
	})
}

func errText(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func main() {}
