package dbbench

import (
	"fmt"
	"strconv"
	"sync"
)

// Random is LevelDB's util/random.h generator: Park-Miller "minimal
// standard" (multiplier 16807, modulus 2^31-1). db_bench draws keys and
// builds values with it, so porting it exactly reproduces db_bench's data.
type Random struct {
	seed uint32
}

// NewRandom returns a generator seeded as LevelDB seeds one: the low 31 bits
// of s, with 0 and 2^31-1 (fixed points) replaced by 1.
func NewRandom(s uint32) *Random {
	r := &Random{seed: s & 0x7fffffff}
	if r.seed == 0 || r.seed == 2147483647 {
		r.seed = 1
	}
	return r
}

// Next returns the next value, in [1, 2^31-2].
func (r *Random) Next() uint32 {
	const m = 2147483647 // 2^31-1
	const a = 16807      // bits 14, 8, 7, 5, 2, 1, 0
	// seed = (seed * a) % m, computed without a division since
	// ((x << 31) % m) == x.
	product := uint64(r.seed) * a
	seed := uint32((product >> 31) + (product & m))
	if seed > m {
		seed -= m
	}
	r.seed = seed
	return seed
}

// Uniform returns a value in [0, n-1]; n must be positive.
func (r *Random) Uniform(n int) int { return int(r.Next() % uint32(n)) }

// ValueGenerator hands out values as db_bench's RandomGenerator does: a pool
// of at least 1 MiB (or one value, if larger) filled with 100-byte pieces,
// each piece a random run of printable characters ' '..'~' of length
// 100*compressionRatio repeated to fill it, so a compressor shrinks values
// to about that ratio. Values are consecutive slices of the pool, wrapping
// to the start when the next one would not fit.
type ValueGenerator struct {
	data   []byte
	pos    int
	shared *valuePool // where data comes from on first use, if not built yet
}

// NewValueGenerator builds the pool for values of up to maxLen bytes.
func NewValueGenerator(compressionRatio float64, maxLen int) *ValueGenerator {
	return &ValueGenerator{data: buildValuePool(compressionRatio, maxLen)}
}

// valuePool is one value pool shared, read-only, by the generators of
// every thread and benchmark of a run: the pool's contents depend only on
// the compression ratio and the value size (its seed is fixed), so sharing
// it gives each generator the values it would have built itself, without
// a megabyte per thread per benchmark (and none in a run that writes no
// values), which would otherwise count in the engine's peak RSS.
type valuePool struct {
	once             sync.Once
	compressionRatio float64
	maxLen           int
	data             []byte
}

func (p *valuePool) get() []byte {
	p.once.Do(func() { p.data = buildValuePool(p.compressionRatio, p.maxLen) })
	return p.data
}

// generator returns a generator over the shared pool, built when the first
// value is asked for.
func (p *valuePool) generator() *ValueGenerator { return &ValueGenerator{shared: p} }

func buildValuePool(compressionRatio float64, maxLen int) []byte {
	rnd := NewRandom(301)
	size := max(1<<20, maxLen)
	data := make([]byte, 0, size+100)
	var piece, raw []byte
	for len(data) < size {
		piece, raw = compressibleString(rnd, compressionRatio, 100, piece[:0], raw)
		data = append(data, piece...)
	}
	return data
}

// compressibleString is LevelDB's test::CompressibleString: raw =
// len*fraction random characters (at least 1), repeated to len bytes. It
// returns the string, appended to dst, and raw's buffer for reuse.
func compressibleString(rnd *Random, fraction float64, n int, dst, raw []byte) ([]byte, []byte) {
	k := int(float64(n) * fraction)
	if k < 1 {
		k = 1
	}
	raw = raw[:0]
	for range k {
		raw = append(raw, byte(' '+rnd.Uniform(95)))
	}
	for len(dst) < n {
		dst = append(dst, raw...)
	}
	return dst[:n], raw
}

// Generate returns the next n bytes of the pool. The slice aliases the pool:
// callers must not modify it.
func (g *ValueGenerator) Generate(n int) []byte {
	if g.data == nil {
		g.data = g.shared.get()
	}
	if g.pos+n > len(g.data) {
		g.pos = 0
	}
	g.pos += n
	return g.data[g.pos-n : g.pos]
}

// KeyFormat writes key numbers as db_bench's KeyBuffer does: zero-padded
// decimal of exactly Size bytes ("%016d" for 16).
type KeyFormat struct {
	Size int
}

// Append appends the key for k to dst.
func (f KeyFormat) Append(dst []byte, k int) []byte {
	var tmp [20]byte
	digits := strconv.AppendUint(tmp[:0], uint64(k), 10)
	for i := len(digits); i < f.Size; i++ {
		dst = append(dst, '0')
	}
	return append(dst, digits...)
}

// check reports whether every key below num fits in Size bytes.
func (f KeyFormat) check(num int) error {
	if num < 1 {
		return nil
	}
	if n := len(strconv.Itoa(num - 1)); n > f.Size {
		return fmt.Errorf("--key_size=%d is too small for --num=%d: key %d needs %d digits", f.Size, num, num-1, n)
	}
	return nil
}
