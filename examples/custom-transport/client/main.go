// Command client is the client of the custom-transport example: it connects
// over framed TCP, echoes a message with an ack, joins a room, chats in it,
// prints what it receives and exits.
//
//	go run ./examples/custom-transport/client -addr 127.0.0.1:4000 -msg hello
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sio-go/sio/engine/client"
	"github.com/sio-go/sio/examples/custom-transport/tcpframe"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4000", "server address")
	msg := flag.String("msg", "hello", "message to echo and chat")
	room := flag.String("room", "lobby", "room to join")
	auth := flag.String("auth", `{"user":"demo"}`, `CONNECT auth (try {"reject":true})`)
	flag.Parse()
	log.SetFlags(0)

	c, err := tcpframe.Dial(tcpframe.ClientOptions{
		Addr:   *addr,
		Auth:   []byte(*auth),
		Config: client.Config{ReconnectionAttempts: 3, AckTimeout: 5 * time.Second},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Wait for the socket to connect.
	for ev := range c.Events() {
		show(ev)
		if ev.Kind == client.EventConnect {
			break
		}
		if (ev.Kind == client.EventConnectError && ev.Err == nil) || ev.Kind == client.EventReconnectFailed {
			os.Exit(1) // refused by the server, or unreachable
		}
	}

	ack, err := c.EmitWithAck(ctx, "echo", new(client.Args).String(*msg), 0)
	check(err)
	show(ack)

	ack, err = c.EmitWithAck(ctx, "join", new(client.Args).String(*room), 0)
	check(err)
	show(ack)

	ack, err = c.EmitWithAck(ctx, "chat", new(client.Args).String(*room).String(*msg), 0)
	check(err)
	show(ack)

	// Print what arrives until our chat message comes back from the room.
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return
			}
			show(ev)
			if ev.Kind == client.EventEmit && ev.Name == "chat" {
				return
			}
		case <-ctx.Done():
			log.Fatal("no chat message came back")
		}
	}
}

func show(ev client.Event) {
	switch ev.Kind {
	case client.EventConnect:
		fmt.Printf("connected as %s\n", ev.SID)
	case client.EventConnectError:
		if ev.Err != nil {
			fmt.Printf("connect error: %v\n", ev.Err)
		} else {
			fmt.Printf("refused: %s %s\n", ev.Message, ev.Data)
		}
	case client.EventDisconnect:
		fmt.Printf("disconnected: %s\n", ev.Reason)
	case client.EventEmit:
		fmt.Printf("event %q %s\n", ev.Name, list(ev.Args))
	case client.EventAck:
		fmt.Printf("ack %d %s\n", ev.ID, list(ev.Args))
	case client.EventAckTimeout, client.EventAckCanceled:
		fmt.Printf("%s for emit %d\n", ev.Kind, ev.ID)
	default:
		fmt.Println(ev.Kind)
	}
}

// list shows raw JSON arguments as a JSON array.
func list(args [][]byte) []byte {
	return append(append([]byte("["), bytes.Join(args, []byte(","))...), ']')
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
