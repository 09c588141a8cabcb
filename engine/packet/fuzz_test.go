package packet

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"testing"
)

// The seed corpora live in testdata/fuzz/<Name>/.

var fuzzLimits = []Limits{{}, {MaxAttachments: 2, MaxDepth: 3, MaxIDDigits: 25}}

// checkErr fails unless err is a remote *Error with a sentinel of this package.
func checkErr(t *testing.T, in []byte, err error) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) || !pe.Remote || pe.Kind == nil {
		t.Fatalf("%q: error %v (%T) is not a remote *Error", in, err, err)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, lim := range fuzzLimits {
			p, n, err := DecodeHeader(text, lim)
			if err != nil {
				checkErr(t, text, err)
				if n != 0 {
					t.Fatalf("%q: error with %d attachments", text, n)
				}
				continue
			}
			l := lim.withDefaults()
			if p.Type > BinaryAck || (n > 0) != p.Type.Binary() || n > l.MaxAttachments || n < 0 {
				t.Fatalf("%q: type %v with %d attachments", text, p.Type, n)
			}
			if p.Attachments != nil {
				t.Fatalf("%q: DecodeHeader filled Attachments", text)
			}
			if len(p.Data) > 0 {
				if !json.Valid(p.Data) || isSpace(p.Data[0]) || isSpace(p.Data[len(p.Data)-1]) {
					t.Fatalf("%q: Data %q is not trimmed JSON", text, p.Data)
				}
				if !bytes.Contains(text, p.Data) {
					t.Fatalf("%q: Data %q not from the input", text, p.Data)
				}
			}
			if p.Type == Event || p.Type == BinaryEvent {
				name, _, err := EventName(p.Data, nil)
				if err != nil {
					t.Fatalf("%q: EventName: %v", text, err)
				}
				if IsReserved(name) {
					t.Fatalf("%q: reserved event %q accepted", text, name)
				}
			}
			if p.Type == Ack || p.Type == BinaryAck {
				if _, err := SplitArray(nil, p.Data); err != nil {
					t.Fatalf("%q: ACK data: %v", text, err)
				}
			}

			// Re-encoding gives an equivalent packet.
			p.Attachments = attachments(n)
			enc := AppendHeader(nil, &p)
			if HeaderLen(&p) != len(enc) {
				t.Fatalf("%q: HeaderLen %d, AppendHeader wrote %q", text, HeaderLen(&p), enc)
			}
			q, m, err := DecodeHeader(enc, lim)
			if err != nil {
				t.Fatalf("%q re-encoded as %q: %v", text, enc, err)
			}
			q.Attachments = attachments(m)
			if d := samePacket(q, p); d != "" || m != n {
				t.Fatalf("%q re-encoded as %q decodes differently: %s (attachments %d, %d)", text, enc, d, m, n)
			}
		}
	})
}

// FuzzDecoder feeds a Decoder a sequence of messages cut from the input: each
// message is a flag byte (bit 0: binary), a length byte and that many bytes.
// A model of the decoder's state checks every answer.
func FuzzDecoder(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		d := Decoder{Limits: Limits{MaxAttachments: 3, MaxDepth: 8}}
		want, header := 0, []byte(nil) // the model: attachments expected, header collecting them
		var got [][]byte
		for len(in) >= 2 {
			binary := in[0]&1 == 1
			size := min(int(in[1]), len(in)-2)
			msg := in[2 : 2+size]
			in = in[2+size:]

			p, ok, err := d.Decode(msg, binary)
			switch {
			case binary && want == 0:
				if !errors.Is(err, ErrUnexpectedBin) || ok {
					t.Fatalf("stray binary: ok=%v err=%v", ok, err)
				}
			case binary:
				if err != nil {
					t.Fatalf("attachment: %v", err)
				}
				got = append(got, msg)
				want--
				if ok != (want == 0) {
					t.Fatalf("attachment: ok=%v with %d to come", ok, want)
				}
				if ok {
					hp, n, err := DecodeHeader(header, d.Limits)
					if err != nil || n != len(got) {
						t.Fatalf("header %q: %d attachments, %v", header, n, err)
					}
					hp.Attachments = got
					if diff := samePacket(p, hp); diff != "" {
						t.Fatalf("assembled packet: %s", diff)
					}
					got, header = nil, nil
				}
			case want > 0:
				if !errors.Is(err, ErrUnexpectedText) || ok {
					t.Fatalf("text while expecting: ok=%v err=%v", ok, err)
				}
				want, got, header = 0, nil, nil
			default:
				hp, n, herr := DecodeHeader(msg, d.Limits)
				if (err == nil) != (herr == nil) {
					t.Fatalf("%q: Decoder says %v, DecodeHeader %v", msg, err, herr)
				}
				if err != nil {
					checkErr(t, msg, err)
					if ok {
						t.Fatal("ok with an error")
					}
					break
				}
				if ok != (n == 0) {
					t.Fatalf("%q: ok=%v with %d attachments", msg, ok, n)
				}
				if ok {
					if diff := samePacket(p, hp); diff != "" {
						t.Fatalf("%q: %s", msg, diff)
					}
				} else {
					want, header = n, msg
				}
			}
			if err != nil {
				checkErr(t, msg, err)
			}
			if d.Pending() != (want > 0) {
				t.Fatalf("Pending() = %v, model expects %d attachments", d.Pending(), want)
			}
		}
	})
}

// FuzzSplitArray checks SplitArray and EventName against encoding/json on
// valid JSON arrays, and that they never panic on anything else.
func FuzzSplitArray(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		elems, err := SplitArray(nil, data)
		name, args, nerr := EventName(data, nil)
		if !json.Valid(data) {
			return
		}
		var raw []json.RawMessage
		if i := skipSpace(data, 0); data[i] != '[' || json.Unmarshal(data, &raw) != nil {
			if !errors.Is(err, ErrArgsNotArray) {
				t.Fatalf("%q is no array, SplitArray says %v", data, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("SplitArray(%q): %v", data, err)
		}
		if len(elems) != len(raw) {
			t.Fatalf("SplitArray(%q) = %q, encoding/json finds %d elements", data, strs(elems), len(raw))
		}
		for i := range raw {
			if !bytes.Equal(elems[i], raw[i]) {
				t.Fatalf("SplitArray(%q)[%d] = %q, encoding/json says %q", data, i, elems[i], raw[i])
			}
		}
		// The elements rejoined are the same JSON value.
		joined := AppendArrayData(nil, elems)
		var a, b any
		if err := unmarshalNumbers(data, &a); err != nil {
			t.Fatal(err)
		}
		if err := unmarshalNumbers(joined, &b); err != nil {
			t.Fatalf("rejoined %q: %v", joined, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q rejoined as %q differs", data, joined)
		}

		// EventName agrees with encoding/json on the first element.
		var first any
		if len(raw) > 0 {
			_ = unmarshalNumbers(raw[0], &first)
		}
		switch v := first.(type) {
		case string:
			if nerr != nil || name != v {
				t.Fatalf("EventName(%q) = %q, %v; want %q", data, name, nerr, v)
			}
		case json.Number:
			if nerr != nil || name != v.String() {
				t.Fatalf("EventName(%q) = %q, %v; want %q", data, name, nerr, v)
			}
		default:
			if !errors.Is(nerr, ErrInvalidPayload) {
				t.Fatalf("EventName(%q): err = %v, want ErrInvalidPayload", data, nerr)
			}
			return
		}
		if len(args) != len(raw)-1 {
			t.Fatalf("EventName(%q): %d args, want %d", data, len(args), len(raw)-1)
		}
	})
}

func unmarshalNumbers(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// FuzzPlaceholder compares Placeholder with a model built on encoding/json's
// exact-key map decoding (last duplicate wins, as in JSON.parse).
func FuzzPlaceholder(f *testing.F) {
	f.Fuzz(func(t *testing.T, elem []byte) {
		num, ok := Placeholder(elem)
		wantNum, wantOK := 0, false
		var m map[string]json.RawMessage
		if json.Unmarshal(elem, &m) == nil && m != nil && string(m["_placeholder"]) == "true" {
			if raw, has := m["num"]; has && len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
				if f, err := strconv.ParseFloat(string(raw), 64); err == nil && f >= 0 && f <= math.MaxInt32 && f == math.Trunc(f) {
					wantNum, wantOK = int(f), true
				}
			}
		}
		if num != wantNum || ok != wantOK {
			t.Fatalf("Placeholder(%q) = %d, %v; want %d, %v", elem, num, ok, wantNum, wantOK)
		}
	})
}

// FuzzAppendString compares AppendString with JSON.stringify's semantics.
func FuzzAppendString(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if want := stringify(t, s); string(got) != want {
			t.Fatalf("AppendString(%q) = %q, want %q", s, got, want)
		}
	})
}
