package keys

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRoundTrip builds two tuples from the input with the generator of the
// randomized test, and checks that each decodes to itself and that their
// encodings compare as the reference model compares them.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{4, 13, 13, 11, 2, 3, 9, 9, 9, 9, 0, 2, 12, 255, 0, 1})
	f.Add([]byte("\x04\x0b\x04\x0b\x04\x0b\x04\x0d\x07\x05\x00\x01\x02\x03\x04"))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Add(bytes.Repeat([]byte{0x03, 0x0e, 0x05}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := genPair(&byteSource{data})
		ea := checkRoundTrip(t, a)
		eb := checkRoundTrip(t, b)
		checkOrder(t, a, b, ea, eb)
	})
}

// FuzzUnpack feeds arbitrary bytes to Unpack: it must not panic, its errors
// must wrap ErrInvalid, and what it accepts must pack back to the same
// bytes (decoding is strict). Skipping element by element must succeed
// exactly when Unpack does.
func FuzzUnpack(f *testing.F) {
	for _, g := range golden {
		f.Add(unhex(f, g.hex))
	}
	for _, c := range []string{"0161", "05ff0001", "160001", "0c7ffffffffffffffe", "fa00fffe", "fe9eff", "13ff"} {
		f.Add(unhex(f, c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tup, err := Unpack(data)
		d := NewDecoder(data)
		var skipErr error
		for d.More() && skipErr == nil {
			skipErr = d.Skip()
		}
		if (err == nil) != (skipErr == nil) {
			t.Fatalf("Unpack(% x): %v, but Skip: %v", data, err, skipErr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Unpack(% x): error %v does not wrap ErrInvalid", data, err)
			}
			return
		}
		enc, err := tup.Pack()
		if err != nil {
			t.Fatalf("Pack(Unpack(% x)) = Pack(%#v): %v", data, tup, err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("Pack(Unpack(% x)) = % x", data, enc)
		}
	})
}
