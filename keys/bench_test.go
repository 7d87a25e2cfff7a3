package keys

import "testing"

func BenchmarkAppendInt(b *testing.B) {
	buf := make([]byte, 0, 16)
	for i := range b.N {
		buf = AppendInt(buf[:0], int64(i)*-7919)
	}
}

func BenchmarkAppendBytes(b *testing.B) {
	buf := make([]byte, 0, 64)
	v := []byte("user/\x00/0123456789abcdef")
	b.SetBytes(int64(len(v)))
	for range b.N {
		buf = AppendBytes(buf[:0], v)
	}
}

var benchTuple = Tuple{"orders", int64(1234567), Desc{int64(1700000000)}}

func BenchmarkPack(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, err := benchTuple.Pack(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnpack(b *testing.B) {
	enc, err := benchTuple.Pack()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := Unpack(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecoderSkip(b *testing.B) {
	enc, err := benchTuple.Pack()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		d := Decoder{b: enc}
		for d.More() {
			if err := d.Skip(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
