package packet

import (
	"errors"
	"strings"
	"testing"
)

// wantRemote checks that err is a remote *Error matching kind.
func wantRemote(t *testing.T, what string, err, kind error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", what, kind)
		return
	}
	if !errors.Is(err, kind) {
		t.Errorf("%s: error %q, want %v", what, err, kind)
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %T is not a *Error", what, err)
	} else if !pe.Remote {
		t.Errorf("%s: error %q is not marked Remote", what, err)
	}
}

func deep(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		in   string
		kind error
	}{
		{"", ErrEmpty},

		{"7", ErrUnknownType},
		{"9[]", ErrUnknownType},
		{"a", ErrUnknownType},
		{"/admin,", ErrUnknownType},
		{" 2[\"a\"]", ErrUnknownType},
		{"-1", ErrUnknownType},
		{"\x00", ErrUnknownType},
		{"\xff", ErrUnknownType},
		{"42[\"a\"]", ErrInvalidPayload}, // Engine.IO prefix left on: CONNECT_ERROR id 2 with an array

		{"5", ErrIllegalAttach},
		{"6", ErrIllegalAttach},
		{"5-", ErrIllegalAttach},
		{`5-["a"]`, ErrIllegalAttach},
		{`51["a",{"_placeholder":true,"num":0}]`, ErrIllegalAttach},
		{`5a-["a"]`, ErrIllegalAttach},
		{`5 1-["a"]`, ErrIllegalAttach},
		{`5+1-["a"]`, ErrIllegalAttach},
		{`5-1-["a"]`, ErrIllegalAttach},
		{`50-["a"]`, ErrIllegalAttach},
		{`6000-[]`, ErrIllegalAttach},
		{`51234567-["a"]`, ErrIllegalAttach},
		{`61.0-[]`, ErrIllegalAttach},
		{`51`, ErrIllegalAttach},

		{`517-["a"]`, ErrTooManyAttach},
		{`6999999-[]`, ErrTooManyAttach},

		{`21234567890123456["a"]`, ErrBadID},
		{`2/admin,0000000000000001["a"]`, ErrBadID},
		{`51-99999999999999999999["a",{"_placeholder":true,"num":0}]`, ErrBadID},

		// CONNECT: nothing or an object.
		{`0[]`, ErrInvalidPayload},
		{`0"s"`, ErrInvalidPayload},
		{`0null`, ErrInvalidPayload},
		{`0true`, ErrInvalidPayload},
		{`0 `, ErrInvalidPayload},
		{`0/admin,[]`, ErrInvalidPayload},
		{`0{`, ErrInvalidPayload},
		{`0{}x`, ErrInvalidPayload},
		{`0{}{}`, ErrInvalidPayload},
		// DISCONNECT: nothing.
		{`1{}`, ErrInvalidPayload},
		{`1[]`, ErrInvalidPayload},
		{`1"x"`, ErrInvalidPayload},
		{`1/admin,{}`, ErrInvalidPayload},
		// CONNECT_ERROR: a string or an object.
		{`4`, ErrInvalidPayload},
		{`4/admin,`, ErrInvalidPayload},
		{`4[]`, ErrInvalidPayload},
		{`4null`, ErrInvalidPayload},
		{`4 `, ErrInvalidPayload},
		// EVENT: an array whose first element is a string or a number.
		{`2`, ErrInvalidPayload},
		{`2/admin,`, ErrInvalidPayload},
		{`21`, ErrInvalidPayload},
		{`2{}`, ErrInvalidPayload},
		{`2"a"`, ErrInvalidPayload},
		{`2[]`, ErrInvalidPayload},
		{`2[ ]`, ErrInvalidPayload},
		{`2[null]`, ErrInvalidPayload},
		{`2[true,1]`, ErrInvalidPayload},
		{`2[{}]`, ErrInvalidPayload},
		{`2[["a"]]`, ErrInvalidPayload},
		{`51-[{"_placeholder":true,"num":0}]`, ErrInvalidPayload},
		{`51-{"_placeholder":true,"num":0}`, ErrInvalidPayload},
		// ACK: an array.
		{`3`, ErrInvalidPayload},
		{`37`, ErrInvalidPayload},
		{`3{}`, ErrInvalidPayload},
		{`3"x"`, ErrInvalidPayload},
		{`61-1{"_placeholder":true,"num":0}`, ErrInvalidPayload},
		// Malformed JSON.
		{`2["a"`, ErrInvalidPayload},
		{`2["a",]`, ErrInvalidPayload},
		{`2[,"a"]`, ErrInvalidPayload},
		{`2['a']`, ErrInvalidPayload},
		{`2["a"]]`, ErrInvalidPayload},
		{`2["a"]x`, ErrInvalidPayload},
		{"2[\"a\x01\"]", ErrInvalidPayload},
		{`2["\x"]`, ErrInvalidPayload},
		{`2["a",01]`, ErrInvalidPayload},
		{`2["a",NaN]`, ErrInvalidPayload},
		{`2]["a"]`, ErrInvalidPayload},
		{`2]][[["a"]]]`, ErrInvalidPayload},
		{`3[}`, ErrInvalidPayload},

		// Reserved event names, plain or escaped, with namespace, id or attachments.
		{`2["connect"]`, ErrReservedEvent},
		{`2["connect_error",1]`, ErrReservedEvent},
		{`2["disconnect"]`, ErrReservedEvent},
		{`2["disconnecting"]`, ErrReservedEvent},
		{`2/admin,5["newListener","x"]`, ErrReservedEvent},
		{`2 [ "removeListener" ] `, ErrReservedEvent},
		{`2["\u0063onnect"]`, ErrReservedEvent},
		{`2["dis\u0063onnect",{}]`, ErrReservedEvent},
		{`51-["disconnect",{"_placeholder":true,"num":0}]`, ErrReservedEvent},

		// Nesting beyond the default depth of 64.
		{"2[\"a\"," + deep("[", "]", 64) + "]", ErrTooDeep},
		{"0" + deep(`{"a":`, "}", 65), ErrTooDeep},
		{"3" + deep("[", "]", 10000), ErrTooDeep},
		{"2" + strings.Repeat("[", 100), ErrTooDeep},
	}
	for _, tt := range tests {
		in := tt.in
		if len(in) > 40 {
			in = in[:40] + "..."
		}
		p, n, err := DecodeHeader([]byte(tt.in), Limits{})
		wantRemote(t, "DecodeHeader("+in+")", err, tt.kind)
		if err != nil && (n != 0 || p.Attachments != nil) {
			t.Errorf("DecodeHeader(%q) failed but returned %d attachments", in, n)
		}
		// A Decoder reports the same error and is left idle.
		var d Decoder
		_, ok, err := d.Decode([]byte(tt.in), false)
		wantRemote(t, "Decoder.Decode("+in+")", err, tt.kind)
		if ok || d.Pending() {
			t.Errorf("Decoder.Decode(%q): ok=%v pending=%v after an error", in, ok, d.Pending())
		}
	}
}

func TestLimitsAttachments(t *testing.T) {
	header := func(n string) []byte { return []byte("5" + n + `-["a"]`) }
	if _, n, err := DecodeHeader(header("16"), Limits{}); err != nil || n != 16 {
		t.Errorf("16 attachments under the default limit: n=%d err=%v", n, err)
	}
	_, _, err := DecodeHeader(header("17"), Limits{})
	wantRemote(t, "17 attachments", err, ErrTooManyAttach)

	lim := Limits{MaxAttachments: 2}
	if _, n, err := DecodeHeader(header("2"), lim); err != nil || n != 2 {
		t.Errorf("2 attachments, limit 2: n=%d err=%v", n, err)
	}
	_, _, err = DecodeHeader(header("3"), lim)
	wantRemote(t, "3 attachments, limit 2", err, ErrTooManyAttach)

	// Negative limits mean the default.
	if _, _, err := DecodeHeader(header("16"), Limits{MaxAttachments: -1}); err != nil {
		t.Errorf("negative limit: %v", err)
	}

	// The Decoder applies its own Limits.
	d := Decoder{Limits: Limits{MaxAttachments: 1}}
	_, _, err = d.Decode(header("2"), false)
	wantRemote(t, "Decoder with MaxAttachments 1", err, ErrTooManyAttach)
	if d.Pending() {
		t.Error("Decoder pending after a refused header")
	}
}

func TestLimitsDepth(t *testing.T) {
	// Depth counts the payload's own array: "[...]" holding 63 more levels is 64.
	ok := `2["a",` + deep("[", "]", 63) + "]"
	if _, _, err := DecodeHeader([]byte(ok), Limits{}); err != nil {
		t.Errorf("depth 64: %v", err)
	}
	tooDeep := `2["a",` + deep("[", "]", 64) + "]"
	_, _, err := DecodeHeader([]byte(tooDeep), Limits{})
	wantRemote(t, "depth 65", err, ErrTooDeep)

	lim := Limits{MaxDepth: 3}
	if _, _, err := DecodeHeader([]byte(`2["a",{"b":[1]}]`), lim); err != nil {
		t.Errorf("depth 3, limit 3: %v", err)
	}
	_, _, err = DecodeHeader([]byte(`2["a",{"b":[[1]]}]`), lim)
	wantRemote(t, "depth 4, limit 3", err, ErrTooDeep)

	// Brackets inside strings, escaped quotes included, do not nest.
	inString := `2["a","` + strings.Repeat(`[{\"[`, 100) + `"]`
	if _, _, err := DecodeHeader([]byte(inString), lim); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
	// Depth is the maximum along the way, not the total count of brackets.
	wide := `2["a"` + strings.Repeat(`,[{}]`, 1000) + "]"
	if _, _, err := DecodeHeader([]byte(wide), lim); err != nil {
		t.Errorf("wide but shallow: %v", err)
	}

	// 10,000 levels are refused by the iterative scan, whatever the limit below that.
	huge := "2" + deep("[", "]", 10000)
	for _, max := range []int{0, 1, 64, 5000} {
		_, _, err := DecodeHeader([]byte(huge), Limits{MaxDepth: max})
		wantRemote(t, "10,000 deep", err, ErrTooDeep)
	}
	// A limit beyond what encoding/json accepts still refuses (as malformed).
	_, _, err = DecodeHeader([]byte("3"+deep("[", "]", 20000)), Limits{MaxDepth: 100000})
	wantRemote(t, "20,000 deep, limit 100,000", err, ErrInvalidPayload)
}

func TestLimitsID(t *testing.T) {
	if p, _, err := DecodeHeader([]byte(`2999999999999999["a"]`), Limits{}); err != nil || p.ID != 999999999999999 {
		t.Errorf("15 digits: id=%d err=%v", p.ID, err)
	}
	_, _, err := DecodeHeader([]byte(`21000000000000000["a"]`), Limits{})
	wantRemote(t, "16 digits", err, ErrBadID)

	lim := Limits{MaxIDDigits: 3}
	if p, _, err := DecodeHeader([]byte(`2999["a"]`), lim); err != nil || p.ID != 999 {
		t.Errorf("3 digits, limit 3: id=%d err=%v", p.ID, err)
	}
	_, _, err = DecodeHeader([]byte(`21000["a"]`), lim)
	wantRemote(t, "4 digits, limit 3", err, ErrBadID)

	// With room for more digits than a uint64 holds, overflow is an error, not a clamp.
	lim = Limits{MaxIDDigits: 30}
	if p, _, err := DecodeHeader([]byte(`218446744073709551615["a"]`), lim); err != nil || p.ID != 1<<64-1 {
		t.Errorf("max uint64: id=%d err=%v", p.ID, err)
	}
	_, _, err = DecodeHeader([]byte(`218446744073709551616["a"]`), lim)
	wantRemote(t, "uint64 overflow", err, ErrBadID)
	_, _, err = DecodeHeader([]byte(`2123456789012345678901234["a"]`), lim)
	wantRemote(t, "25 digits", err, ErrBadID)
}

func TestDecoderAttachments(t *testing.T) {
	var d Decoder
	if d.Pending() {
		t.Fatal("zero Decoder pending")
	}
	bins := [][]byte{{1, 2}, {}, {3, 4, 5}}
	_, ok, err := d.Decode([]byte(`53-/admin,9["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`), false)
	if err != nil || ok || !d.Pending() {
		t.Fatalf("header: ok=%v pending=%v err=%v", ok, d.Pending(), err)
	}
	for i, b := range bins[:2] {
		_, ok, err := d.Decode(b, true)
		if err != nil || ok || !d.Pending() {
			t.Fatalf("attachment %d: ok=%v pending=%v err=%v", i, ok, d.Pending(), err)
		}
	}
	p, ok, err := d.Decode(bins[2], true)
	if err != nil || !ok || d.Pending() {
		t.Fatalf("last attachment: ok=%v pending=%v err=%v", ok, d.Pending(), err)
	}
	want := Packet{Type: BinaryEvent, Namespace: "/admin", ID: 9, HasID: true,
		Data:        []byte(`["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`),
		Attachments: bins}
	if diff := samePacket(p, want); diff != "" {
		t.Fatal(diff)
	}
	// Attachments alias the messages, in arrival order.
	if &p.Attachments[0][0] != &bins[0][0] || &p.Attachments[2][0] != &bins[2][0] {
		t.Error("attachments do not alias the binary messages")
	}

	// The decoder is idle again: a stray binary message is refused...
	_, ok, err = d.Decode([]byte{9}, true)
	wantRemote(t, "binary after a complete packet", err, ErrUnexpectedBin)
	if ok || d.Pending() {
		t.Error("stray binary changed the state")
	}
	// ...and the next binary packet starts afresh, sharing nothing with the last.
	if _, _, err := d.Decode([]byte(`61-4[{"_placeholder":true,"num":0}]`), false); err != nil {
		t.Fatal(err)
	}
	p2, ok, err := d.Decode([]byte{7}, true)
	if err != nil || !ok {
		t.Fatalf("second packet: ok=%v err=%v", ok, err)
	}
	if p2.Type != BinaryAck || len(p2.Attachments) != 1 || p2.Attachments[0][0] != 7 {
		t.Fatalf("second packet = %+v", p2)
	}
	if len(p.Attachments) != 3 || p.Attachments[0][0] != 1 {
		t.Fatal("second packet overwrote the first one's attachments")
	}
}

func TestDecoderUnexpected(t *testing.T) {
	var d Decoder
	_, ok, err := d.Decode([]byte("bin"), true)
	wantRemote(t, "binary first", err, ErrUnexpectedBin)
	if ok || d.Pending() {
		t.Fatal("state changed")
	}

	// Text while collecting attachments drops the partial packet.
	if _, _, err := d.Decode([]byte(`52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Decode([]byte{1}, true); err != nil {
		t.Fatal(err)
	}
	_, ok, err = d.Decode([]byte(`2["a"]`), false)
	wantRemote(t, "text while expecting", err, ErrUnexpectedText)
	if ok || d.Pending() {
		t.Fatalf("after unexpected text: ok=%v pending=%v", ok, d.Pending())
	}
	_, _, err = d.Decode([]byte{2}, true)
	wantRemote(t, "binary after the reset", err, ErrUnexpectedBin)
	// The text that was refused is not kept: the next text decodes normally.
	p, ok, err := d.Decode([]byte(`2["b"]`), false)
	if err != nil || !ok || string(p.Data) != `["b"]` || p.Attachments != nil {
		t.Fatalf("after recovery: %+v ok=%v err=%v", p, ok, err)
	}
	// Even an invalid text message is reported as unexpected while collecting.
	if _, _, err := d.Decode([]byte(`51-["a",{"_placeholder":true,"num":0}]`), false); err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Decode([]byte(""), false)
	wantRemote(t, "empty text while expecting", err, ErrUnexpectedText)
}

func TestDecoderReset(t *testing.T) {
	var d Decoder
	d.Reset() // harmless when idle
	if _, _, err := d.Decode([]byte(`52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Decode([]byte{1}, true); err != nil {
		t.Fatal(err)
	}
	d.Reset()
	if d.Pending() {
		t.Fatal("pending after Reset")
	}
	_, _, err := d.Decode([]byte{2}, true)
	wantRemote(t, "binary after Reset", err, ErrUnexpectedBin)
	if _, _, err := d.Decode([]byte(`51-["b",{"_placeholder":true,"num":0}]`), false); err != nil {
		t.Fatal(err)
	}
	p, ok, err := d.Decode([]byte{3}, true)
	if err != nil || !ok || len(p.Attachments) != 1 || p.Attachments[0][0] != 3 || string(p.Data) != `["b",{"_placeholder":true,"num":0}]` {
		t.Fatalf("after Reset: %+v ok=%v err=%v", p, ok, err)
	}
}

func TestDecoderTextPackets(t *testing.T) {
	var d Decoder
	for _, in := range []string{"0", `0/admin,{"token":"123"}`, `2["hello",1]`, `3/admin,13["bar"]`, "1/admin,"} {
		p, ok, err := d.Decode([]byte(in), false)
		if err != nil || !ok || d.Pending() {
			t.Fatalf("%q: ok=%v pending=%v err=%v", in, ok, d.Pending(), err)
		}
		if got := string(AppendHeader(nil, &p)); got != in {
			t.Errorf("%q re-encoded as %q", in, got)
		}
	}
}
