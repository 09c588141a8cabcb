package packet

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSplitArray(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`[]`, []string{}},
		{` [ ] `, []string{}},
		{"\t[\n]\r\n", []string{}},
		{`[1]`, []string{`1`}},
		{`[1,2,3]`, []string{`1`, `2`, `3`}},
		{" [ 1 ,\t2\n,\r\n3 ] ", []string{`1`, `2`, `3`}},
		{`["a,]}","b\"]",",","\\","\\\"","]"]`, []string{`"a,]}"`, `"b\"]"`, `","`, `"\\"`, `"\\\""`, `"]"`}},
		{`[{"x":[1,{"y":"]"}]},[[],[[]]],{}]`, []string{`{"x":[1,{"y":"]"}]}`, `[[],[[]]]`, `{}`}},
		{`[ { "a" : [ 1 , 2 ] } , [ "," , "}" ] ]`, []string{`{ "a" : [ 1 , 2 ] }`, `[ "," , "}" ]`}},
		{`[true,false,null,-0,1.5e-3,"",{"":""}]`, []string{`true`, `false`, `null`, `-0`, `1.5e-3`, `""`, `{"":""}`}},
		{`["ü","\u00fc","😀","\ud83d\ude00","日本"]`, []string{`"ü"`, `"\u00fc"`, `"😀"`, `"\ud83d\ude00"`, `"日本"`}},
		{"[\"\\\"\",\n\"\\\\\",  \"a\\\\\\\\\"  ]", []string{`"\""`, `"\\"`, `"a\\\\"`}},
		{`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, []string{`{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":1}`}},
		{`["[\"nested\",\"json\"]",{"k":"{\"a\":[}"}]`, []string{`"[\"nested\",\"json\"]"`, `{"k":"{\"a\":[}"}`}},
	}
	for _, tt := range tests {
		if !json.Valid([]byte(tt.in)) {
			t.Fatalf("test input %q is not JSON", tt.in)
		}
		got, err := SplitArray(nil, []byte(tt.in))
		if err != nil {
			t.Errorf("SplitArray(%q): %v", tt.in, err)
			continue
		}
		if !equalStrings(strs(got), tt.want) {
			t.Errorf("SplitArray(%q) = %q, want %q", tt.in, strs(got), tt.want)
		}
		for _, e := range got {
			if !json.Valid(e) {
				t.Errorf("SplitArray(%q): element %q is not JSON", tt.in, e)
			}
		}
	}
}

func TestSplitArrayAppends(t *testing.T) {
	dst := make([][]byte, 1, 8)
	dst[0] = []byte("keep")
	got, err := SplitArray(dst, []byte(`["a",2]`))
	if err != nil {
		t.Fatal(err)
	}
	if !equalStrings(strs(got), []string{"keep", `"a"`, "2"}) {
		t.Fatalf("got %q", strs(got))
	}
	if &got[0] != &dst[0] {
		t.Error("SplitArray did not reuse dst's backing array")
	}
}

func TestSplitArrayNotArray(t *testing.T) {
	for _, in := range []string{``, ` `, `{}`, `"[1]"`, `1`, `null`, `{"a":[1]}`, `]`} {
		_, err := SplitArray(nil, []byte(in))
		if !errors.Is(err, ErrArgsNotArray) {
			t.Errorf("SplitArray(%q): err = %v, want ErrArgsNotArray", in, err)
			continue
		}
		var pe *Error
		if errors.As(err, &pe) && pe.Remote {
			t.Errorf("SplitArray(%q): misuse reported as remote", in)
		}
	}
}

func TestEventName(t *testing.T) {
	tests := []struct {
		in   string
		name string
		args []string
	}{
		{`["hello",1]`, "hello", []string{"1"}},
		{`["chat",{"text":"hello","user":"u1"}]`, "chat", []string{`{"text":"hello","user":"u1"}`}},
		{`["only"]`, "only", []string{}},
		{` [ "sp" , [1] , "x" ] `, "sp", []string{"[1]", `"x"`}},
		{`["a\"b",true]`, `a"b`, []string{"true"}},
		{`["a,]}"]`, "a,]}", []string{}},
		{`["\u00e9t\u00e9"]`, "été", []string{}},
		{`["\ud83d\ude00"]`, "😀", []string{}},
		{`["日本語","ü"]`, "日本語", []string{`"ü"`}},
		{`["\\n\n"]`, `\n` + "\n", []string{}},
		{`["\ud800"]`, "\ufffd", []string{}},
		{`[""]`, "", []string{}},
		{`[42,"x"]`, "42", []string{`"x"`}},
		{`[-1.5e3]`, "-1.5e3", []string{}},
		{`[0]`, "0", []string{}},
		// EventName only extracts: reserved names are refused by DecodeHeader.
		{`["connect"]`, "connect", []string{}},
	}
	for _, tt := range tests {
		name, args, err := EventName([]byte(tt.in), nil)
		if err != nil {
			t.Errorf("EventName(%q): %v", tt.in, err)
			continue
		}
		if name != tt.name || !equalStrings(strs(args), tt.args) {
			t.Errorf("EventName(%q) = %q %q, want %q %q", tt.in, name, strs(args), tt.name, tt.args)
		}
	}
}

func TestEventNameReusesArgs(t *testing.T) {
	buf := make([][]byte, 0, 4)
	name, args, err := EventName([]byte(`["e",1,2,3]`), buf)
	if err != nil || name != "e" || !equalStrings(strs(args), []string{"1", "2", "3"}) {
		t.Fatalf("got %q %q %v", name, strs(args), err)
	}
	if &args[0] != &buf[:1][0] {
		t.Error("EventName did not reuse the args backing array")
	}
	if n := testing.AllocsPerRun(100, func() {
		_, args, _ = EventName([]byte(`["e",1,2,3]`), args[:0])
	}); n != 1 { // the name
		t.Errorf("EventName allocates %v times, want 1", n)
	}
}

func TestEventNameErrors(t *testing.T) {
	tests := []struct {
		in   string
		kind error
	}{
		{`[]`, ErrInvalidPayload},
		{` [ ] `, ErrInvalidPayload},
		{`[null]`, ErrInvalidPayload},
		{`[true]`, ErrInvalidPayload},
		{`[{"a":1}]`, ErrInvalidPayload},
		{`[["a"]]`, ErrInvalidPayload},
		{`{}`, ErrArgsNotArray},
		{`"a"`, ErrArgsNotArray},
		{``, ErrArgsNotArray},
		// Malformed input (a Packet never holds it) is refused without panicking.
		{`[,]`, ErrInvalidPayload},
		{`[`, ErrInvalidPayload},
		{`["`, ErrInvalidPayload},
		{`["a`, ErrInvalidPayload},
		{`["\"]`, ErrInvalidPayload},
		{`["\x"]`, ErrInvalidPayload},
		{"[\"a\x00\"]", ErrInvalidPayload},
	}
	for _, tt := range tests {
		_, _, err := EventName([]byte(tt.in), nil)
		if !errors.Is(err, tt.kind) {
			t.Errorf("EventName(%q): err = %v, want %v", tt.in, err, tt.kind)
		}
	}
}

func TestPlaceholder(t *testing.T) {
	tests := []struct {
		in  string
		num int
		ok  bool
	}{
		{`{"_placeholder":true,"num":0}`, 0, true},
		{`{"_placeholder":true,"num":15}`, 15, true},
		{`{"num":3,"_placeholder":true}`, 3, true},
		{` { "_placeholder" : true , "num" : 12 } `, 12, true},
		{"{\n\t\"_placeholder\":\ttrue,\r\n\"num\":\n7\n}", 7, true},
		// Numbers are JavaScript numbers: any integral value counts.
		{`{"_placeholder":true,"num":1.0}`, 1, true},
		{`{"_placeholder":true,"num":1e0}`, 1, true},
		{`{"_placeholder":true,"num":10E-1}`, 1, true},
		{`{"_placeholder":true,"num":-0}`, 0, true},
		{`{"_placeholder":true,"num":2147483647}`, 2147483647, true},
		{`{"_placeholder":true,"num":2147483648}`, 0, false},
		{`{"_placeholder":true,"num":1e10}`, 0, false},
		{`{"_placeholder":true,"num":99999999999999999999999}`, 0, false},
		{`{"_placeholder":true,"num":-1}`, 0, false},
		{`{"_placeholder":true,"num":0.5}`, 0, false},
		{`{"_placeholder":true,"num":"0"}`, 0, false},
		{`{"_placeholder":true,"num":null}`, 0, false},
		{`{"_placeholder":true,"num":true}`, 0, false},
		{`{"_placeholder":true,"num":[0]}`, 0, false},
		{`{"_placeholder":true,"num":{}}`, 0, false},
		{`{"_placeholder":true}`, 0, false},
		// _placeholder must be exactly true.
		{`{"num":0}`, 0, false},
		{`{"_placeholder":false,"num":0}`, 0, false},
		{`{"_placeholder":"true","num":0}`, 0, false},
		{`{"_placeholder":1,"num":0}`, 0, false},
		{`{"_placeholder":null,"num":0}`, 0, false},
		// Keys match exactly, case included.
		{`{"_Placeholder":true,"num":0}`, 0, false},
		{`{"_placeholder":true,"NUM":0}`, 0, false},
		{`{"_placeholder":true,"Num":0}`, 0, false},
		{`{"_placeholder":false,"_PLACEHOLDER":true,"num":0}`, 0, false},
		{`{"_placeholder":true,"num":0,"NUM":"x"}`, 0, true},
		{`{"placeholder":true,"num":0}`, 0, false},
		{`{"_placeholder ":true,"num":0}`, 0, false},
		// ...after unescaping.
		{`{"\u005fplaceholder":true,"n\u0075m":5}`, 5, true},
		{`{"_placeholder\u0000":true,"num":5}`, 0, false},
		// The last of duplicate keys wins, as in JSON.parse.
		{`{"_placeholder":false,"_placeholder":true,"num":0}`, 0, true},
		{`{"_placeholder":true,"_placeholder":false,"num":0}`, 0, false},
		{`{"_placeholder":true,"num":0,"num":"x"}`, 0, false},
		{`{"_placeholder":true,"num":"x","num":2}`, 2, true},
		// Other keys are ignored, nested look-alikes included.
		{`{"a":{"_placeholder":false},"_placeholder":true,"b":[1,{"num":9}],"num":4}`, 4, true},
		{`{"_placeholder":true,"num":0,"extra":"x"}`, 0, true},
		{`{"x":{"_placeholder":true,"num":0}}`, 0, false},
		{`{"s":"\"_placeholder\":true,\"num\":0"}`, 0, false},
		{`{"s":"\"_placeholder\":true,\"num\":0","num":1}`, 0, false},
		// Not objects.
		{`[{"_placeholder":true,"num":0}]`, 0, false},
		{`"{\"_placeholder\":true,\"num\":0}"`, 0, false},
		{`{}`, 0, false},
		{``, 0, false},
		{`{`, 0, false},
		{`null`, 0, false},
		// Malformed JSON.
		{`{"_placeholder":true,"num":0`, 0, false},
		{`{"_placeholder":true,"num":0,}`, 0, false},
		{`{"_placeholder":true,"num":0}}`, 0, false},
		{`{"_placeholder":true "num":0}`, 0, false},
		{`{"_placeholder":true,"num":01}`, 0, false},
		{`{_placeholder:true,num:0}`, 0, false},
	}
	for _, tt := range tests {
		num, ok := Placeholder([]byte(tt.in))
		if ok != tt.ok || num != tt.num {
			t.Errorf("Placeholder(%s) = %d, %v; want %d, %v", tt.in, num, ok, tt.num, tt.ok)
		}
	}
}

func TestAppendPlaceholder(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 15, 999, 1<<31 - 1} {
		b := AppendPlaceholder([]byte("x"), n)
		if want := `x{"_placeholder":true,"num":` + strconv.Itoa(n) + `}`; string(b) != want {
			t.Errorf("AppendPlaceholder(%d) = %s", n, b)
		}
		if got, ok := Placeholder(b[1:]); !ok || got != n {
			t.Errorf("Placeholder(AppendPlaceholder(%d)) = %d, %v", n, got, ok)
		}
	}
}

func TestPlaceholderAllocs(t *testing.T) {
	elem := []byte(`{"_placeholder":true,"num":3}`)
	if n := testing.AllocsPerRun(100, func() { Placeholder(elem) }); n != 0 {
		t.Errorf("Placeholder allocates %v times", n)
	}
}

// stringify is what JSON.stringify produces for s read as UTF-8 the way a
// JavaScript peer reads bytes (each invalid byte becomes U+FFFD): encoding/json
// without HTML escaping, except that JSON.stringify leaves U+2028 and U+2029
// alone. (encoding/json itself writes invalid bytes as the escape \ufffd.)
// Checked against Node 20: the one difference is a truncated sequence such as
// "\xe2\x82", one U+FFFD per byte here as in Go, one per maximal subpart in
// a WHATWG decoder.
func stringify(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(string([]rune(s))); err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	return strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(out)
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"hello", `"hello"`},
		{`"`, `"\""`},
		{`\`, `"\\"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00", `"\u0000"`},
		{"\x01\x07\x0b\x0e\x1b\x1f", `"\u0001\u0007\u000b\u000e\u001b\u001f"`},
		{"\x7f", "\"\x7f\""},
		{" ~", `" ~"`},
		{"/", `"/"`},
		{"<>&'", `"<>&'"`},
		{"été 日本 😀", `"été 日本 😀"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"\ufeff\ufffd\U0010ffff", "\"\ufeff\ufffd\U0010ffff\""},
		{"\xff", "\"\ufffd\""},
		{"a\xc3", "\"a\ufffd\""},
		{"\xc3(", "\"\ufffd(\""},
		{"\xed\xa0\x80", "\"\ufffd\ufffd\ufffd\""},           // UTF-8 of a surrogate
		{"\xf4\x90\x80\x80", "\"\ufffd\ufffd\ufffd\ufffd\""}, // beyond U+10FFFF
		{"\xc0\xaf", "\"\ufffd\ufffd\""},                     // overlong
		{"ok\xe2\x82", "\"ok\ufffd\ufffd\""},
	}
	for _, tt := range tests {
		got := string(AppendString([]byte("pre"), tt.in))
		if !strings.HasPrefix(got, "pre") {
			t.Fatalf("AppendString clobbered dst: %q", got)
		}
		got = got[3:]
		if got != tt.want {
			t.Errorf("AppendString(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if ref := stringify(t, tt.in); got != ref {
			t.Errorf("AppendString(%q) = %q, encoding/json says %q", tt.in, got, ref)
		}
	}
}

// TestAppendStringRandom compares AppendString with encoding/json on random
// strings biased towards the bytes that need care.
func TestAppendStringRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := []string{"\"", "\\", "\n", "\x00", "\x1f", "\x7f", "\u2028", "\xff", "\xc3", "\xed\xa0\x80", "é", "😀", "a", "<", "\t"}
	for range 5000 {
		var sb strings.Builder
		for range r.IntN(20) {
			if r.IntN(3) == 0 {
				sb.WriteByte(byte(r.IntN(256)))
			} else {
				sb.WriteString(special[r.IntN(len(special))])
			}
		}
		s := sb.String()
		got := AppendString(nil, s)
		if want := stringify(t, s); string(got) != want {
			t.Fatalf("AppendString(%q) = %q, want %q", s, got, want)
		}
		if !utf8.Valid(got) || !json.Valid(got) {
			t.Fatalf("AppendString(%q) = %q is not valid UTF-8 JSON", s, got)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != string([]rune(s)) {
			t.Fatalf("AppendString(%q) decodes to %q, %v", s, back, err)
		}
	}
}

func TestAppendStringAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { AppendString(buf[:0], "a\"b\x01\xff") }); n != 0 {
		t.Errorf("AppendString into a large enough buffer allocates %v times", n)
	}
}

func TestAppendEventData(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"hello", nil, `["hello"]`},
		{"chat", []string{`{"text":"hello","user":"u1"}`}, `["chat",{"text":"hello","user":"u1"}]`},
		{"a\"b", []string{"1", `"x"`, "null"}, `["a\"b",1,"x",null]`},
		{"", []string{"[]"}, `["",[]]`},
	}
	for _, tt := range tests {
		args := make([][]byte, len(tt.args))
		for i, a := range tt.args {
			args[i] = []byte(a)
		}
		got := AppendEventData(nil, tt.name, args)
		if string(got) != tt.want {
			t.Errorf("AppendEventData(%q, %q) = %s, want %s", tt.name, tt.args, got, tt.want)
		}
		// And it decodes back.
		name, back, err := EventName(got, nil)
		if err != nil || name != tt.name || !equalStrings(strs(back), tt.args) {
			if !(len(tt.args) == 0 && len(back) == 0 && err == nil && name == tt.name) {
				t.Errorf("EventName(%s) = %q %q %v", got, name, strs(back), err)
			}
		}
	}
}

func TestAppendArrayData(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, `[]`},
		{[]string{"1"}, `[1]`},
		{[]string{`"a"`, `{"b":[1,2]}`, `null`}, `["a",{"b":[1,2]},null]`},
	}
	for _, tt := range tests {
		args := make([][]byte, len(tt.args))
		for i, a := range tt.args {
			args[i] = []byte(a)
		}
		got := AppendArrayData([]byte("x"), args)
		if string(got) != "x"+tt.want {
			t.Errorf("AppendArrayData(%q) = %s, want x%s", tt.args, got, tt.want)
		}
		split, err := SplitArray(nil, got[1:])
		if err != nil || !equalStrings(strs(split), append([]string{}, tt.args...)) {
			t.Errorf("SplitArray(%s) = %q, %v", got[1:], strs(split), err)
		}
	}
}

// TestSplitArrayMalformed checks that malformed data (which a decoded Packet
// never holds) ends the scan instead of looping: "[1}" once made SplitArray
// append empty elements forever.
func TestSplitArrayMalformed(t *testing.T) {
	for _, in := range []string{`[1}`, `[}`, `[1,}`, `[{}}`, `[1]]`, `[,]`, `[,,,`, `[`, `["`, `["a\"`, `[{`, `[[}]`, `[1 2]`, `[true,false,null,-0,1.5e-3,"",` + "\x80\x00\x00\x00" + `""}]`} {
		got, err := SplitArray(nil, []byte(in))
		if err != nil {
			t.Errorf("SplitArray(%q): %v", in, err)
		}
		if len(got) > len(in) {
			t.Errorf("SplitArray(%q) returned %d elements", in, len(got))
		}
		_, _, _ = EventName([]byte(in), nil) // must not panic
	}
}
