package vfs

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestMemDataModel appends random runs across chunk boundaries, reads at
// random offsets and takes prefixes, checking everything against a plain
// byte slice; prefixes are then appended to independently of their source.
func TestMemDataModel(t *testing.T) {
	pool := make([]byte, 2*memChunkSize)
	for i := range pool {
		pool[i] = byte(i*7 + i>>8)
	}
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 11))
		d, model := &memData{}, []byte(nil)
		type snap struct {
			d     *memData
			model []byte
		}
		var snaps []snap
		for step := range 150 {
			n := rng.IntN(3 * memChunkSize / 2)
			if rng.IntN(4) > 0 {
				n = rng.IntN(5000)
			}
			start := rng.IntN(len(pool) - n + 1)
			p := pool[start : start+n]
			d.appendBytes(p)
			model = append(model, p...)
			if d.size != int64(len(model)) {
				t.Fatalf("seed %d step %d: size %d, want %d", seed, step, d.size, len(model))
			}
			for i, c := range d.chunks {
				if i < len(d.chunks)-1 && len(c) != memChunkSize || len(c) > memChunkSize {
					t.Fatalf("seed %d step %d: chunk %d has %d bytes", seed, step, i, len(c))
				}
			}
			off := rng.Int64N(d.size + 1)
			buf := make([]byte, rng.IntN(2*memChunkSize))
			got := d.readAt(buf, off)
			want := min(len(buf), len(model)-int(off))
			if got != want || !bytes.Equal(buf[:got], model[off:off+int64(got)]) {
				t.Fatalf("seed %d step %d: readAt(%d, %d) = %d bytes, want %d", seed, step, len(buf), off, got, want)
			}
			if rng.IntN(20) == 0 {
				size := rng.Int64N(d.size + 1)
				snaps = append(snaps, snap{d.prefix(size), bytes.Clone(model[:size])})
			}
			// Grow a random snapshot too: it must copy, not scribble on d.
			if len(snaps) > 0 && rng.IntN(3) == 0 {
				s := &snaps[rng.IntN(len(snaps))]
				q := bytes.Repeat([]byte{byte(step)}, rng.IntN(3000))
				s.d.appendBytes(q)
				s.model = append(s.model, q...)
			}
		}
		for i, s := range append(snaps, snap{d, model}) {
			all := make([]byte, s.d.size)
			if n := s.d.readAt(all, 0); n != len(s.model) || !bytes.Equal(all, s.model) {
				t.Fatalf("seed %d: snapshot %d differs from its model", seed, i)
			}
		}
	}
}
