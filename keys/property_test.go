package keys

import (
	"bytes"
	"cmp"
	"flag"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seedFlag sets the seed of the randomized tests. Give it after the package:
// go test ./keys/ -run TestRandomTuples -keys.seed=N
var seedFlag = flag.Uint64("keys.seed", 0, "seed of the randomized tests (0: $KEYS_SEED, or else the clock)")

// testSeed returns the seed of a randomized test and logs it.
func testSeed(t *testing.T) uint64 {
	seed := *seedFlag
	if seed == 0 {
		if s := os.Getenv("KEYS_SEED"); s != "" {
			var err error
			if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
				t.Fatalf("KEYS_SEED=%q: %v", s, err)
			}
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (repeat with: go test ./keys/ -run '%s$' -keys.seed=%d, or KEYS_SEED=%d)", seed, t.Name(), seed, seed)
	return seed
}

func TestRandomTuples(t *testing.T) {
	seed := testSeed(t)
	src := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		a, b := genPair(src)
		ea := checkRoundTrip(t, a)
		eb := checkRoundTrip(t, b)
		checkOrder(t, a, b, ea, eb)
	}
}

// ---- Generating tuples ----

// source is what the generator draws from: a *rand.Rand, or a byteSource
// in the fuzz tests.
type source interface {
	IntN(n int) int
	Uint64() uint64
}

// byteSource is a source reading fuzz input, then zeros once it runs out.
type byteSource struct{ b []byte }

func (s *byteSource) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *byteSource) IntN(n int) int {
	v := int(s.next())
	if n > 256 {
		v = v<<8 | int(s.next())
	}
	return v % n
}

func (s *byteSource) Uint64() uint64 {
	var u uint64
	for range 8 {
		u = u<<8 | uint64(s.next())
	}
	return u
}

const genMaxDepth = 3

// genPair returns two tuples that are often equal or nearly so, so that
// comparisons reach past their first elements.
func genPair(src source) (a, b Tuple) {
	a = genTuple(src, 0)
	switch src.IntN(4) {
	case 0:
		b = genTuple(src, 0)
	case 1: // a prefix of a, extended
		b = append(slices.Clone(a[:src.IntN(len(a)+1)]), genTuple(src, 0)...)
	case 2: // a with one element changed, possibly deep inside
		b = genTuple(src, 0)
		if len(a) > 0 {
			b = mutate(src, a, 0, false).(Tuple)
		}
	case 3:
		b = slices.Clone(a)
	}
	if src.IntN(2) == 0 {
		a, b = b, a
	}
	return a, b
}

func genTuple(src source, depth int) Tuple {
	t := make(Tuple, src.IntN(5))
	for i := range t {
		t[i] = genElem(src, depth, true)
	}
	return t
}

var (
	someInts = []int64{0, 1, -1, 2, -2, 127, 128, -128, -129, 255, 256, -255, -256, -257,
		65535, 65536, -65536, 1<<56 - 1, 1 << 56, -(1 << 56), math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	someFloat64s = []float64{0, math.Copysign(0, -1), 1, -1, 0.5, math.Inf(1), math.Inf(-1), math.NaN(),
		-math.NaN(), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		math.Float64frombits(0x7ff0000000000001), math.Float64frombits(0xffffffffffffffff)}
	someFloat32s = []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00000), math.Float32frombits(0x7f800001),
		math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32}
	byteAlphabet = []byte{0x00, 0x01, 'a', 'b', 0x7f, 0xfe, 0xff}
)

// genElem returns a random element; a Desc only if allowDesc.
func genElem(src source, depth int, allowDesc bool) any {
	switch src.IntN(16) {
	case 0:
		return nil
	case 1:
		return src.IntN(2) == 1
	case 2:
		return someInts[src.IntN(len(someInts))]
	case 3: // any int64, of any magnitude
		v := int64(src.Uint64() >> src.IntN(64))
		if src.IntN(2) == 0 {
			v = -v
		}
		return v
	case 4: // the other integer types
		u := src.Uint64()
		switch src.IntN(9) {
		case 0:
			return int(u)
		case 1:
			return int8(u)
		case 2:
			return int16(u)
		case 3:
			return int32(u)
		case 4:
			return uint(u)
		case 5:
			return uint8(u)
		case 6:
			return uint16(u)
		case 7:
			return uint32(u)
		default:
			return u >> src.IntN(64)
		}
	case 5:
		if src.IntN(2) == 0 {
			return someFloat32s[src.IntN(len(someFloat32s))]
		}
		return math.Float32frombits(uint32(src.Uint64()))
	case 6:
		if src.IntN(2) == 0 {
			return someFloat64s[src.IntN(len(someFloat64s))]
		}
		return math.Float64frombits(src.Uint64())
	case 7, 8:
		if src.IntN(8) == 0 {
			return []byte(nil)
		}
		return genBytes(src)
	case 9, 10:
		return string(genBytes(src))
	case 11, 12:
		if depth >= genMaxDepth {
			return Tuple{}
		}
		return genTuple(src, depth+1)
	default:
		if !allowDesc {
			return int64(src.IntN(3))
		}
		return Desc{genElem(src, depth, false)}
	}
}

func genBytes(src source) []byte {
	b := make([]byte, src.IntN(6))
	for i := range b {
		b[i] = byteAlphabet[src.IntN(len(byteAlphabet))]
	}
	return b
}

// mutate returns v, or something like it: an element replaced, possibly
// deep inside nested tuples and Desc.
func mutate(src source, v any, depth int, allowDesc bool) any {
	switch x := v.(type) {
	case Tuple:
		if len(x) > 0 && (depth == 0 || src.IntN(2) == 0) {
			y := slices.Clone(x)
			i := src.IntN(len(y))
			y[i] = mutate(src, y[i], depth+1, true)
			return y
		}
	case Desc:
		if src.IntN(2) == 0 {
			return Desc{mutate(src, x.V, depth, false)}
		}
	}
	return genElem(src, depth, allowDesc)
}

// ---- Checking ----

// checkRoundTrip checks that x decodes to itself, as Unpack's type rules
// say, and that Decoder.Skip steps as Next does. It returns x's encoding.
func checkRoundTrip(t testing.TB, x Tuple) []byte {
	t.Helper()
	enc, err := x.Pack()
	if err != nil {
		t.Fatalf("Pack(%#v): %v", x, err)
	}
	dec, err := Unpack(enc)
	if err != nil {
		t.Fatalf("Unpack(Pack(%#v)) = Unpack(% x): %v", x, enc, err)
	}
	if want := normalize(x).(Tuple); !sameTuple(dec, want) {
		t.Fatalf("Unpack(Pack(x)) = %#v, want %#v (encoding % x)", dec, want, enc)
	}
	next, skip := NewDecoder(enc), NewDecoder(enc)
	for next.More() {
		_, err1 := next.Next()
		err2 := skip.Skip()
		if err1 != nil || err2 != nil || next.Offset() != skip.Offset() {
			t.Fatalf("% x: Next: %v at offset %d, Skip: %v at offset %d",
				enc, err1, next.Offset(), err2, skip.Offset())
		}
	}
	if skip.More() || next.Offset() != len(enc) {
		t.Fatalf("% x: decoders stopped at %d and %d", enc, next.Offset(), skip.Offset())
	}
	return enc
}

// checkOrder checks that the encodings ea and eb of a and b compare as the
// reference model compares a and b.
func checkOrder(t testing.TB, a, b Tuple, ea, eb []byte) {
	t.Helper()
	got, want := bytes.Compare(ea, eb), cmp.Compare(compareTuples(a, b), 0)
	if got != want {
		t.Fatalf("compare(% x, % x) = %d, but the model compares\n%#v\n%#v\nas %d", ea, eb, got, a, b, want)
	}
}

// normalize returns x as Unpack returns it: integers as int64 (uint64 above
// math.MaxInt64), []byte and Tuple non-nil.
func normalize(x any) any {
	switch v := x.(type) {
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint:
		return normalize(uint64(v))
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		if v > math.MaxInt64 {
			return v
		}
		return int64(v)
	case []byte:
		if v == nil {
			return []byte{}
		}
		return v
	case Tuple:
		t := Tuple{}
		for _, e := range v {
			t = append(t, normalize(e))
		}
		return t
	case Desc:
		return Desc{normalize(v.V)}
	default:
		return x
	}
}

// sameTuple reports whether a and b are identical: same types, floats with
// the same bits, nil-ness of slices included.
func sameTuple(a, b Tuple) bool {
	return (a == nil) == (b == nil) && slices.EqualFunc(a, b, sameValue)
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && (x == nil) == (y == nil) && bytes.Equal(x, y)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && sameTuple(x, y)
	case Desc:
		y, ok := b.(Desc)
		return ok && sameValue(x.V, y.V)
	default: // nil, bool, integers, string
		return a == b
	}
}

// compareTuples is the reference order of tuples, written from their
// values, not their encodings: element by element, a prefix first.
func compareTuples(a, b Tuple) int {
	for i := range min(len(a), len(b)) {
		if c := compareElems(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func compareElems(a, b any) int {
	da, aDesc := a.(Desc)
	db, bDesc := b.(Desc)
	switch {
	case aDesc && bDesc:
		return -compareElems(da.V, db.V)
	case aDesc:
		return 1
	case bDesc:
		return -1
	}
	if c := cmp.Compare(class(a), class(b)); c != 0 {
		return c
	}
	switch x := a.(type) {
	case nil:
		return 0
	case bool:
		return cmp.Compare(boolRank(x), boolRank(b.(bool)))
	case []byte:
		return bytes.Compare(x, b.([]byte))
	case string:
		return strings.Compare(x, b.(string))
	case Tuple:
		return compareTuples(x, b.(Tuple))
	case float32:
		y := b.(float32)
		return compareFloats(float64(x), float64(y), uint64(math.Float32bits(x)), uint64(math.Float32bits(y)))
	case float64:
		return compareFloats(x, b.(float64), math.Float64bits(x), math.Float64bits(b.(float64)))
	default:
		return bigInt(a).Cmp(bigInt(b))
	}
}

// class ranks the types in their documented order.
func class(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case []byte:
		return 1
	case string:
		return 2
	case Tuple:
		return 3
	case float32:
		return 5
	case float64:
		return 6
	case bool:
		return 7
	default:
		return 4 // integers
	}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compareFloats compares x and y (with bits xb and yb): -NaN < -Inf <
// numbers < +Inf < +NaN, -0 < +0, and NaNs of one sign by their payload,
// a larger payload further from zero.
func compareFloats(x, y float64, xb, yb uint64) int {
	rank := func(f float64) int {
		switch {
		case f == f:
			return 1
		case math.Signbit(f):
			return 0
		default:
			return 2
		}
	}
	if c := cmp.Compare(rank(x), rank(y)); c != 0 {
		return c
	}
	switch rank(x) {
	case 0:
		return cmp.Compare(yb, xb)
	case 2:
		return cmp.Compare(xb, yb)
	}
	if x == y && math.Signbit(x) != math.Signbit(y) { // -0 and +0
		if math.Signbit(x) {
			return -1
		}
		return 1
	}
	return cmp.Compare(x, y)
}

// bigInt returns the value of an integer of any type.
func bigInt(v any) *big.Int {
	switch x := normalize(v).(type) {
	case int64:
		return big.NewInt(x)
	case uint64:
		return new(big.Int).SetUint64(x)
	}
	panic("not an integer")
}
