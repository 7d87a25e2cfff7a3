package record

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{100, 4 << 10}

func BenchmarkWriteRecord(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			rec := pattern(size, 1)
			w := NewWriter(io.Discard)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.WriteRecord(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			// A log of ~16 MiB, read over and over with one Reader.
			n := 16 << 20 / (size + HeaderSize)
			recs := make([][]byte, n)
			for i := range recs {
				recs[i] = pattern(size, byte(i))
			}
			data, _ := encodeLog(b, 0, recs)
			br := bytes.NewReader(data)
			r := NewReader(br, "bench.log")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Next(); err != nil {
					if err != io.EOF {
						b.Fatal(err)
					}
					br.Reset(data)
					r.Reset(br, "bench.log")
				}
			}
		})
	}
}

// BenchmarkTornTailScan measures the worst ordinary damage case: a torn
// final record whose 32 KiB of random payload must all be searched for a
// valid chunk before the tail is declared torn.
func BenchmarkTornTailScan(b *testing.B) {
	rec := make([]byte, 3*BlockSize)
	for i := range rec {
		rec[i] = byte(i*2654435761>>13) ^ byte(i>>8)
	}
	data, _ := encodeLog(b, 0, [][]byte{rec})
	data = data[:len(data)-10]
	br := bytes.NewReader(data)
	r := NewReader(br, "bench.log")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(data)
		r.Reset(br, "bench.log")
		if _, err := r.Next(); err != io.EOF {
			b.Fatal(err)
		}
	}
}
