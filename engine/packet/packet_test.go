package packet

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// samePacket reports how got differs from want, comparing the namespace as
// Nsp does and attachments by content.
func samePacket(got, want Packet) string {
	var diffs []string
	if got.Type != want.Type {
		diffs = append(diffs, fmt.Sprintf("Type %v, want %v", got.Type, want.Type))
	}
	if got.Nsp() != want.Nsp() {
		diffs = append(diffs, fmt.Sprintf("Nsp %q, want %q", got.Nsp(), want.Nsp()))
	}
	if got.HasID != want.HasID || (want.HasID && got.ID != want.ID) {
		diffs = append(diffs, fmt.Sprintf("ID %d/%v, want %d/%v", got.ID, got.HasID, want.ID, want.HasID))
	}
	if !bytes.Equal(got.Data, want.Data) {
		diffs = append(diffs, fmt.Sprintf("Data %q, want %q", got.Data, want.Data))
	}
	if len(got.Attachments) != len(want.Attachments) {
		diffs = append(diffs, fmt.Sprintf("%d attachments, want %d", len(got.Attachments), len(want.Attachments)))
	} else {
		for i := range got.Attachments {
			if !bytes.Equal(got.Attachments[i], want.Attachments[i]) {
				diffs = append(diffs, fmt.Sprintf("attachment %d = %x, want %x", i, got.Attachments[i], want.Attachments[i]))
			}
		}
	}
	return strings.Join(diffs, "; ")
}

func attachments(n int) [][]byte {
	a := make([][]byte, n)
	for i := range a {
		a[i] = []byte{byte(i), 0xff}
	}
	return a
}

// goldens pairs packets with their text encoding; the wire forms come from the
// protocol's examples (without the Engine.IO "4" message prefix) and cover every
// type with and without a namespace and an ack id.
var goldens = []struct {
	name string
	p    Packet
	wire string
	n    int // attachments announced
}{
	{"connect main", Packet{Type: Connect}, "0", 0},
	{"connect main slash", Packet{Type: Connect, Namespace: "/"}, "0", 0},
	{"connect sid", Packet{Type: Connect, Data: []byte(`{"sid":"wZX3oN0bSVIhsaknAAAI"}`)}, `0{"sid":"wZX3oN0bSVIhsaknAAAI"}`, 0},
	{"connect admin", Packet{Type: Connect, Namespace: "/admin"}, "0/admin,", 0},
	{"connect admin token", Packet{Type: Connect, Namespace: "/admin", Data: []byte(`{"token":"123"}`)}, `0/admin,{"token":"123"}`, 0},
	{"disconnect main", Packet{Type: Disconnect}, "1", 0},
	{"disconnect admin", Packet{Type: Disconnect, Namespace: "/admin"}, "1/admin,", 0},
	{"event", Packet{Type: Event, Data: []byte(`["hello",1]`)}, `2["hello",1]`, 0},
	{"event foo", Packet{Type: Event, Data: []byte(`["foo"]`)}, `2["foo"]`, 0},
	{"event admin", Packet{Type: Event, Namespace: "/admin", Data: []byte(`["bar"]`)}, `2/admin,["bar"]`, 0},
	{"event id", Packet{Type: Event, ID: 12, HasID: true, Data: []byte(`["foo"]`)}, `212["foo"]`, 0},
	{"event admin id", Packet{Type: Event, Namespace: "/admin", ID: 13, HasID: true, Data: []byte(`["foo"]`)}, `2/admin,13["foo"]`, 0},
	{"event id 0", Packet{Type: Event, ID: 0, HasID: true, Data: []byte(`["foo"]`)}, `20["foo"]`, 0},
	{"event numeric name", Packet{Type: Event, Data: []byte(`[42,"x"]`)}, `2[42,"x"]`, 0},
	{"ack empty", Packet{Type: Ack, ID: 12, HasID: true, Data: []byte(`[]`)}, `312[]`, 0},
	{"ack", Packet{Type: Ack, ID: 14, HasID: true, Data: []byte(`["bar"]`)}, `314["bar"]`, 0},
	{"ack admin", Packet{Type: Ack, Namespace: "/admin", ID: 13, HasID: true, Data: []byte(`["bar"]`)}, `3/admin,13["bar"]`, 0},
	{"ack no id", Packet{Type: Ack, Data: []byte(`[]`)}, `3[]`, 0},
	{"connect error", Packet{Type: ConnectError, Data: []byte(`{"message":"Not authorized"}`)}, `4{"message":"Not authorized"}`, 0},
	{"connect error admin", Packet{Type: ConnectError, Namespace: "/admin", Data: []byte(`{"message":"Not authorized"}`)}, `4/admin,{"message":"Not authorized"}`, 0},
	{"connect error string", Packet{Type: ConnectError, Data: []byte(`"nope"`)}, `4"nope"`, 0},
	{"invalid namespace", Packet{Type: ConnectError, Namespace: "/random", Data: []byte(`{"message":"Invalid namespace"}`)}, `4/random,{"message":"Invalid namespace"}`, 0},
	{"binary event", Packet{Type: BinaryEvent, Data: []byte(`["hello",{"_placeholder":true,"num":0}]`), Attachments: attachments(1)}, `51-["hello",{"_placeholder":true,"num":0}]`, 1},
	{"binary event baz", Packet{Type: BinaryEvent, Data: []byte(`["baz",{"_placeholder":true,"num":0}]`), Attachments: attachments(1)}, `51-["baz",{"_placeholder":true,"num":0}]`, 1},
	{"binary event admin 2", Packet{Type: BinaryEvent, Namespace: "/admin", Data: []byte(`["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: attachments(2)}, `52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, 2},
	{"binary event id", Packet{Type: BinaryEvent, ID: 14, HasID: true, Data: []byte(`["foo",{"_placeholder":true,"num":0}]`), Attachments: attachments(1)}, `51-14["foo",{"_placeholder":true,"num":0}]`, 1},
	{"binary event admin id", Packet{Type: BinaryEvent, Namespace: "/admin", ID: 7, HasID: true, Data: []byte(`["foo",{"_placeholder":true,"num":0}]`), Attachments: attachments(1)}, `51-/admin,7["foo",{"_placeholder":true,"num":0}]`, 1},
	{"binary ack", Packet{Type: BinaryAck, ID: 15, HasID: true, Data: []byte(`["bar",{"_placeholder":true,"num":0}]`), Attachments: attachments(1)}, `61-15["bar",{"_placeholder":true,"num":0}]`, 1},
	{"binary ack admin", Packet{Type: BinaryAck, Namespace: "/admin", ID: 15, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0}]`), Attachments: attachments(1)}, `61-/admin,15[{"_placeholder":true,"num":0}]`, 1},
	{"binary ack 12 attachments", Packet{Type: BinaryAck, ID: 1, HasID: true, Data: []byte(`[]`), Attachments: attachments(12)}, `612-1[]`, 12},
	{"big id", Packet{Type: Event, ID: 999999999999999, HasID: true, Data: []byte(`["x"]`)}, `2999999999999999["x"]`, 0},
}

func TestGoldenEncode(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			prefix := []byte("prefix")
			got := AppendHeader(prefix, &g.p)
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("AppendHeader clobbered dst: %q", got)
			}
			if string(got[len(prefix):]) != g.wire {
				t.Errorf("AppendHeader = %q, want %q", got[len(prefix):], g.wire)
			}
			if n := HeaderLen(&g.p); n != len(g.wire) {
				t.Errorf("HeaderLen = %d, want %d", n, len(g.wire))
			}
		})
	}
}

func TestGoldenDecode(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			p, n, err := DecodeHeader([]byte(g.wire), Limits{})
			if err != nil {
				t.Fatalf("DecodeHeader(%q): %v", g.wire, err)
			}
			if n != g.n {
				t.Errorf("announced %d attachments, want %d", n, g.n)
			}
			if p.Attachments != nil {
				t.Errorf("DecodeHeader filled Attachments")
			}
			want := g.p
			want.Attachments = nil
			if d := samePacket(p, want); d != "" {
				t.Error(d)
			}
			if want.Namespace == "" || want.Namespace == "/" {
				if p.Namespace != "" && p.Namespace != "/" {
					t.Errorf("Namespace = %q", p.Namespace)
				}
			}
		})
	}
}

// TestGoldenDecoder feeds every golden packet through one Decoder, with its
// attachments as binary messages.
func TestGoldenDecoder(t *testing.T) {
	var d Decoder
	for _, g := range goldens {
		p, ok, err := d.Decode([]byte(g.wire), false)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		for i, a := range g.p.Attachments {
			if ok {
				t.Fatalf("%s: packet complete before attachment %d", g.name, i)
			}
			if !d.Pending() {
				t.Fatalf("%s: not pending before attachment %d", g.name, i)
			}
			p, ok, err = d.Decode(a, true)
			if err != nil {
				t.Fatalf("%s: attachment %d: %v", g.name, i, err)
			}
		}
		if !ok || d.Pending() {
			t.Fatalf("%s: ok=%v pending=%v after all messages", g.name, ok, d.Pending())
		}
		if diff := samePacket(p, g.p); diff != "" {
			t.Errorf("%s: %s", g.name, diff)
		}
	}
}

func TestDecodeSpecifics(t *testing.T) {
	tests := []struct {
		wire string
		want Packet
		n    int
	}{
		// CONNECT with a namespace but no comma and no payload.
		{"0/custom", Packet{Type: Connect, Namespace: "/custom"}, 0},
		{"1/admin,", Packet{Type: Disconnect, Namespace: "/admin"}, 0},
		{"1/admin", Packet{Type: Disconnect, Namespace: "/admin"}, 0},
		{"0/", Packet{Type: Connect, Namespace: "/"}, 0},
		{"2/,[\"a\"]", Packet{Type: Event, Namespace: "/", Data: []byte(`["a"]`)}, 0},
		// The namespace runs to the first comma, whatever it holds.
		{`0/a{"b":1}`, Packet{Type: Connect, Namespace: `/a{"b":1}`}, 0},
		{"0/ünï,", Packet{Type: Connect, Namespace: "/ünï"}, 0},
		// Leading zeros: the id and the attachment count are plain decimals.
		{`2007["x"]`, Packet{Type: Event, ID: 7, HasID: true, Data: []byte(`["x"]`)}, 0},
		{`501-["x",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Data: []byte(`["x",{"_placeholder":true,"num":0}]`)}, 1},
		// JSON.parse ignores surrounding white space; Data keeps only the value.
		{"2 [\"a\", 1] \n", Packet{Type: Event, Data: []byte(`["a", 1]`)}, 0},
		{"0\t{}\r\n", Packet{Type: Connect, Data: []byte(`{}`)}, 0},
		{"3/x,5 []", Packet{Type: Ack, Namespace: "/x", ID: 5, HasID: true, Data: []byte(`[]`)}, 0},
		// Numeric event names, negative and fractional.
		{`2[-1.5e3]`, Packet{Type: Event, Data: []byte(`[-1.5e3]`)}, 0},
		// A name that merely starts like a reserved one.
		{`2["connection"]`, Packet{Type: Event, Data: []byte(`["connection"]`)}, 0},
		{`2["Connect"]`, Packet{Type: Event, Data: []byte(`["Connect"]`)}, 0},
		{`2[ "disconnect2" ]`, Packet{Type: Event, Data: []byte(`[ "disconnect2" ]`)}, 0},
	}
	for _, tt := range tests {
		p, n, err := DecodeHeader([]byte(tt.wire), Limits{})
		if err != nil {
			t.Errorf("%q: %v", tt.wire, err)
			continue
		}
		if n != tt.n {
			t.Errorf("%q: %d attachments, want %d", tt.wire, n, tt.n)
		}
		if d := samePacket(p, tt.want); d != "" {
			t.Errorf("%q: %s", tt.wire, d)
		}
	}
}

func TestDecodeDataAliasesInput(t *testing.T) {
	in := []byte(`2["a",1]`)
	p, _, err := DecodeHeader(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if &p.Data[0] != &in[1] {
		t.Fatal("Data does not alias the input")
	}
}

func TestAppendHeaderBinaryUpgrade(t *testing.T) {
	tests := []struct {
		p    Packet
		want string
	}{
		// Event/Ack carrying attachments are written as their binary variants.
		{Packet{Type: Event, Data: []byte(`["a",{"_placeholder":true,"num":0}]`), Attachments: attachments(1)}, `51-["a",{"_placeholder":true,"num":0}]`},
		{Packet{Type: Ack, ID: 3, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: attachments(2)}, `62-3[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		// Other types never get an attachment count.
		{Packet{Type: Connect, Attachments: attachments(3)}, `0`},
		{Packet{Type: ConnectError, Data: []byte(`"x"`), Attachments: attachments(11)}, `4"x"`},
		{Packet{Type: Disconnect, Namespace: "/a", Attachments: attachments(1)}, `1/a,`},
		// A binary type without attachments writes a zero count (which decoding refuses).
		{Packet{Type: BinaryEvent, Data: []byte(`["a"]`)}, `50-["a"]`},
		{Packet{Type: BinaryAck, Data: []byte(`[]`), Attachments: attachments(10)}, `610-[]`},
		{Packet{Type: Event, ID: 18446744073709551615, HasID: true, Data: []byte(`["a"]`)}, `218446744073709551615["a"]`},
	}
	for _, tt := range tests {
		got := string(AppendHeader(nil, &tt.p))
		if got != tt.want {
			t.Errorf("AppendHeader(%v) = %q, want %q", tt.p.Type, got, tt.want)
		}
		if n := HeaderLen(&tt.p); n != len(got) {
			t.Errorf("HeaderLen(%v with %d attachments) = %d, AppendHeader wrote %d", tt.p.Type, len(tt.p.Attachments), n, len(got))
		}
	}
}

// TestHeaderLenAgrees checks HeaderLen against AppendHeader over the cross
// product of the fields that change the length.
func TestHeaderLenAgrees(t *testing.T) {
	ids := []uint64{0, 9, 10, 99, 100, 12345, 1<<53 - 1, 1<<64 - 1}
	for typ := Connect; typ <= BinaryAck; typ++ {
		for _, nsp := range []string{"", "/", "/a", "/admin/deep"} {
			for _, na := range []int{0, 1, 9, 10, 100} {
				for _, hasID := range []bool{false, true} {
					for _, id := range ids {
						for _, data := range []string{"", `[]`, `{"k":"v"}`} {
							p := Packet{Type: typ, Namespace: nsp, ID: id, HasID: hasID, Data: []byte(data), Attachments: attachments(na)}
							if got, want := HeaderLen(&p), len(AppendHeader(nil, &p)); got != want {
								t.Fatalf("%+v: HeaderLen %d, AppendHeader %d", p, got, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}
	for i, w := range want {
		if got := Type(i).String(); got != w {
			t.Errorf("Type(%d) = %q, want %q", i, got, w)
		}
		if got, wantBin := Type(i).Binary(), i >= 5; got != wantBin {
			t.Errorf("Type(%d).Binary() = %v", i, got)
		}
	}
	if got := Type(7).String(); got != "Type(7)" {
		t.Errorf("Type(7) = %q", got)
	}
	if got := Type(255).String(); got != "Type(255)" {
		t.Errorf("Type(255) = %q", got)
	}
}

func TestIsReserved(t *testing.T) {
	for _, r := range ReservedEvents {
		if !IsReserved(r) {
			t.Errorf("IsReserved(%q) = false", r)
		}
	}
	for _, s := range []string{"", "Connect", "connect ", "message", "newlistener", "disconnected"} {
		if IsReserved(s) {
			t.Errorf("IsReserved(%q) = true", s)
		}
	}
}

func TestNsp(t *testing.T) {
	for nsp, want := range map[string]string{"": "/", "/": "/", "/a": "/a"} {
		p := Packet{Namespace: nsp}
		if got := p.Nsp(); got != want {
			t.Errorf("Nsp(%q) = %q, want %q", nsp, got, want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := remoteErr(ErrBadID, "too long")
	if e.Error() != "packet: invalid ack id: too long" || !e.Remote {
		t.Errorf("remote error = %q remote=%v", e.Error(), e.Remote)
	}
	if !errors.Is(e, ErrBadID) || errors.Is(e, ErrEmpty) {
		t.Error("errors.Is does not match the sentinel")
	}
	l := localErr(ErrArgsNotArray, "")
	if l.Error() != ErrArgsNotArray.Error() || l.Remote {
		t.Errorf("local error = %q remote=%v", l.Error(), l.Remote)
	}
	var pe *Error
	if !errors.As(error(l), &pe) || pe.Kind != ErrArgsNotArray {
		t.Error("errors.As failed")
	}
}
