package packet

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refCheckJSON is checkJSON as it was before validJSON: a bracket depth scan,
// then encoding/json.Valid. checkJSON must give the same answers.
func refCheckJSON(data []byte, maxDepth int) error {
	if bracketDepthOver(data, maxDepth) {
		return tooDeep(maxDepth)
	}
	if !json.Valid(data) {
		return remoteErr(ErrInvalidPayload, "malformed JSON")
	}
	return nil
}

// sameCheck fails unless checkJSON and refCheckJSON agree on data.
func sameCheck(t *testing.T, data []byte, maxDepth int) {
	t.Helper()
	got, want := checkJSON(data, maxDepth), refCheckJSON(data, maxDepth)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checkJSON(%.80q, %d) = %v, want %v", data, maxDepth, got, want)
	}
	if got != nil {
		var pe *Error
		if !errors.As(got, &pe) || !pe.Remote {
			t.Fatalf("checkJSON(%.80q, %d): %T is not a remote *Error", data, maxDepth, got)
		}
	}
}

// validJSONLimits are the depth limits the tests compare under: tiny, the
// default, past the 64 levels held in a register, past the small spill array.
var validJSONLimits = []int{1, 3, DefaultMaxDepth, 65, 200, 300}

// mixedNest returns n levels alternating by rnd between arrays and objects,
// each holding a scalar before the next level, closed in order.
func mixedNest(rnd *rand.Rand, n int) []byte {
	var b, closers []byte
	for range n {
		if rnd.IntN(2) == 0 {
			b = append(b, `[1,`...)
			closers = append(closers, ']')
		} else {
			b = append(b, `{"k":0,"v":`...)
			closers = append(closers, '}')
		}
	}
	b = append(b, "null"...)
	for i := len(closers) - 1; i >= 0; i-- {
		b = append(b, closers[i])
	}
	return b
}

func TestValidJSON(t *testing.T) {
	cases := []string{
		// Scalars and white space.
		``, ` `, "\t\n\r ", `1`, ` 1 `, "\t\n\r1\r\n\t", "\v1", "\f1", "\u00a01", "\ufeff1", "\xef\xbb\xbf[]",
		`true`, `false`, `null`, `tru`, `truex`, `nul`, `nulll`, `True`, `NaN`, `Infinity`, `undefined`,
		// Numbers.
		`0`, `-0`, `-`, `--1`, `+1`, `01`, `-01`, `00`, `1.`, `.5`, `1.5`, `-1.5`, `1e5`, `1E5`, `1e+5`, `1e-5`,
		`1e`, `1e+`, `1E-`, `1.e5`, `1.5e5`, `0e0`, `-0.0e-0`, `1e5.5`, `2e9999`, `1_000`, `0x10`, `123456789012345678901234567890`,
		// Strings and escapes.
		`""`, `"`, `"a`, `"a"`, `"\"`, `"\\"`, `"\""`, `"\/"`, `"\b\f\n\r\t"`, `"\x"`, `"\'"`, `"\a"`, `"\0"`,
		`"\u00e9"`, `"\u00E9"`, `"\uD800"`, `"\uDC00\uD800"`, `"\u00G0"`, `"\u00e"`, `"\u"`, `"\U00e9"`,
		"\"\x00\"", "\"\x01\"", "\"\x1f\"", "\"\t\"", "\"\n\"", "\"\x7f\"", "\"\xff\xfe\"", "\"\xc3\"", "\"é\"", "\"\xed\xa0\x80\"",
		// Arrays and objects.
		`[]`, `{}`, `[ ]`, `{ }`, `[`, `]`, `{`, `}`, `[1,]`, `[,]`, `[,1]`, `[1 2]`, `[1,,2]`, `[1}`, `{]`,
		`{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{1:2}`, `{a:1}`, `{'a':1}`, `{"a":1 "b":2}`,
		`{"a":[1,{"b":null}],"c":"d"}`, ` [ 1 , { "a" : [ ] } ] `, `[[[]]]`, `[[[]]`, `[[]]]`, `]]][[[`, `[]]`,
		`[1] [2]`, `[1]x`, `1 2`, `{} {}`, `[1]]`, `"a""b"`, `["a",NaN]`, `["[",{"}":"]"}]`, `["\"[["]`,
		`["chat",{"text":"hello world","user":"u1","n":12345,"ok":true}]`,
	}
	for _, s := range cases {
		got := validJSON([]byte(s), math.MaxInt)
		if want := json.Valid([]byte(s)); (got == jsonOK) != want || (got != jsonOK && got != jsonMalformed) {
			t.Errorf("validJSON(%q) = %v, json.Valid says %v", s, got, want)
		}
		for _, max := range validJSONLimits {
			sameCheck(t, []byte(s), max)
		}
	}
}

// TestValidJSONLongStrings puts each kind of byte at each position of strings
// long enough to be scanned eight bytes at a time.
func TestValidJSONLongStrings(t *testing.T) {
	specials := []string{`"`, `\`, `\"`, `\n`, `\u00e9`, `\u00g9`, `\x`, "\x00", "\x1f", "\x20", "\x7f", "\x80", "\xff", "\xc3\xa9", "#", "!"}
	for _, size := range []int{15, 16, 17, 24, 40} {
		for pos := 0; pos <= size; pos++ {
			for _, sp := range specials {
				str := strings.Repeat("a", pos) + sp + strings.Repeat("b", size-pos)
				data := []byte(`["x","` + str + `"]`)
				if got, want := validJSON(data, math.MaxInt) == jsonOK, json.Valid(data); got != want {
					t.Errorf("validJSON(%q) = %v, json.Valid says %v", data, got, want)
				}
			}
		}
	}
}

func TestValidJSONDepth(t *testing.T) {
	check := func(what string, data []byte, maxDepth int, want jsonResult) {
		t.Helper()
		if got := validJSON(data, maxDepth); got != want {
			t.Errorf("%s, limit %d: %v, want %v", what, maxDepth, got, want)
		}
		sameCheck(t, data, maxDepth)
	}
	for _, n := range []int{63, 64, 65, 128, 129, 256, 257, 300, 1000, 10000} {
		arrays := []byte(deep("[", "]", n))
		check(fmt.Sprint(n, " arrays"), arrays, n, jsonOK)
		check(fmt.Sprint(n, " arrays"), arrays, n-1, jsonTooDeep)
		objects := []byte(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
		check(fmt.Sprint(n, " objects"), objects, n, jsonOK)
		check(fmt.Sprint(n, " objects"), objects, n-1, jsonTooDeep)
		// A wrong closer at the bottom, found after the depth check passed.
		bad := append([]byte(deep("[", "]", n-1)), '}')
		check(fmt.Sprint(n, " arrays closed by }"), append([]byte("["), bad...), n, jsonMalformed)
	}
	// encoding/json's own limit holds whatever ours: malformed, not too deep.
	check("10001 arrays", []byte(deep("[", "]", 10001)), math.MaxInt, jsonMalformed)
	check("10001 arrays", []byte(deep("[", "]", 10001)), 10001, jsonMalformed)
	check("10001 arrays", []byte(deep("[", "]", 10001)), 10000, jsonTooDeep)

	// Arrays and objects mixed at random, so that a level restored from the
	// spill space with the wrong kind shows: the closers must match exactly.
	rnd := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{10, 64, 65, 100, 256, 257, 600, 3000} {
		for range 5 {
			// Two such values side by side, so that the second reuses the
			// stack the first left behind.
			data := append([]byte("["), mixedNest(rnd, n)...)
			data = append(append(data, ','), mixedNest(rnd, n)...)
			data = append(data, ']')
			check(fmt.Sprint(n, " mixed"), data, n+1, jsonOK)
			check(fmt.Sprint(n, " mixed"), data, n, jsonTooDeep)
			// Swap one closer of the second value for the other kind: only
			// the kinds kept on the stack tell that apart.
			end := len(data) - 2 - rnd.IntN(n)
			swapped := append([]byte(nil), data...)
			if swapped[end] == ']' {
				swapped[end] = '}'
			} else {
				swapped[end] = ']'
			}
			check(fmt.Sprint(n, " mixed, closer ", end, " swapped"), swapped, n+1, jsonMalformed)
		}
	}

	// Malformed input whose brackets nest too deep after the syntax error is
	// refused as too deep, as the depth-first check did.
	check("syntax error, then deep", []byte("x"+deep("[", "]", 65)), DefaultMaxDepth, jsonMalformed)
	if err := checkJSON([]byte("x"+deep("[", "]", 65)), DefaultMaxDepth); !errors.Is(err, ErrTooDeep) {
		t.Errorf("syntax error then 65 levels: %v, want ErrTooDeep", err)
	}
}

// TestValidJSONAllocs checks that validation allocates nothing, the deepest
// nesting encoding/json accepts included.
func TestValidJSONAllocs(t *testing.T) {
	for _, tt := range []struct {
		data     []byte
		maxDepth int
	}{
		{[]byte(benchPayloadEvent), DefaultMaxDepth},
		{benchPayload10K, DefaultMaxDepth},
		{[]byte(deep("[", "]", 64)), DefaultMaxDepth},
		{[]byte(deep("[", "]", 10000)), DefaultMaxDepth},
		{[]byte(deep("[", "]", 10000)), jsonMaxNesting},
		{mixedNest(rand.New(rand.NewPCG(1, 2)), 5000), jsonMaxNesting},
	} {
		if a := testing.AllocsPerRun(20, func() { validJSON(tt.data, tt.maxDepth) }); a != 0 {
			t.Errorf("validJSON(%.40q..., %d): %v allocations", tt.data, tt.maxDepth, a)
		}
	}
}

// FuzzValidJSON compares validJSON with encoding/json.Valid, and checkJSON
// with the depth scan plus json.Valid it replaces, under several limits.
func FuzzValidJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		got := validJSON(data, math.MaxInt)
		if want := json.Valid(data); (got == jsonOK) != want || (got != jsonOK && got != jsonMalformed) {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", data, got, want)
		}
		for _, max := range validJSONLimits {
			sameCheck(t, data, max)
		}
	})
}

// Benchmark payloads: a typical event, about 100 bytes and about 10 KB.
var (
	benchPayloadEvent = `["chat",{"text":"hello world","user":"u1","n":12345,"ok":true}]`
	benchPayload100   = `["message",{"id":"3f2a9c","from":"alice","to":"room-42","text":"see you at 5pm","ts":1732630000123}]`
	benchPayload10K   = func() []byte {
		b := []byte(`["snapshot",{"room":"lobby","items":[`)
		for i := 0; len(b) < 10*1024-100; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"id":%d,"name":"item \"%d\" caf\u00e9 ☕","price":%d.%02d,"tags":["a","b\n"],"ok":%v,"x":null}`,
				i, i, i*7, i%100, i%2 == 0)
		}
		return append(b, "]}]"...)
	}()
)

func BenchmarkValidJSON(b *testing.B) {
	for _, bc := range []struct {
		name     string
		data     []byte
		maxDepth int
		want     error
	}{
		{"event", []byte(benchPayloadEvent), DefaultMaxDepth, nil},
		{"100B", []byte(benchPayload100), DefaultMaxDepth, nil},
		{"10KB", benchPayload10K, DefaultMaxDepth, nil},
		{"deep10000/limit64", []byte(deep("[", "]", 10000)), DefaultMaxDepth, ErrTooDeep},
		{"deep10000/limit10000", []byte(deep("[", "]", 10000)), jsonMaxNesting, nil},
	} {
		for _, impl := range []struct {
			name  string
			check func([]byte, int) error
		}{{"old", refCheckJSON}, {"new", checkJSON}} {
			b.Run(bc.name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(bc.data)))
				for b.Loop() {
					if err := impl.check(bc.data, bc.maxDepth); !errors.Is(err, bc.want) {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func (r jsonResult) String() string {
	switch r {
	case jsonOK:
		return "ok"
	case jsonMalformed:
		return "malformed"
	case jsonTooDeep:
		return "too deep"
	}
	return "need stack"
}
