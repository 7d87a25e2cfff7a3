package batch

import (
	"bytes"
	"errors"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

func TestRoundTrip(t *testing.T) {
	data := make([]byte, HeaderLen)
	data = AppendSet(data, []byte("a"), []byte("1"))
	data = AppendDelete(data, []byte("b"))
	data = AppendSet(data, nil, nil)
	SetCount(data, 3)
	SetSeq(data, 42)
	// Golden bytes: what C++ LevelDB's WriteBatch produces for the same ops.
	want := []byte{42, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,
		1, 1, 'a', 1, '1',
		0, 1, 'b',
		1, 0, 0}
	if !bytes.Equal(data, want) {
		t.Fatalf("encoding\n got %v\nwant %v", data, want)
	}
	r, err := NewReader(data)
	if err != nil {
		t.Fatal(err)
	}
	type op struct {
		k   base.Kind
		key string
		val string
	}
	var got []op
	for {
		k, key, val, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, op{k, string(key), string(val)})
	}
	wantOps := []op{{base.KindSet, "a", "1"}, {base.KindDelete, "b", ""}, {base.KindSet, "", ""}}
	if len(got) != len(wantOps) {
		t.Fatalf("got %v", got)
	}
	for i := range got {
		if got[i] != wantOps[i] {
			t.Fatalf("op %d: got %v want %v", i, got[i], wantOps[i])
		}
	}
	if Seq(data) != 42 || Count(data) != 3 {
		t.Fatal("header")
	}
}

func TestCorrupt(t *testing.T) {
	good := AppendSet(make([]byte, HeaderLen), []byte("key"), []byte("value"))
	SetCount(good, 1)
	cases := map[string][]byte{
		"short":       good[:5],
		"count-high":  func() []byte { b := bytes.Clone(good); SetCount(b, 2); return b }(),
		"count-low":   func() []byte { b := bytes.Clone(good); SetCount(b, 0); return b }(),
		"truncated":   good[:len(good)-1],
		"bad-kind":    func() []byte { b := bytes.Clone(good); b[HeaderLen] = 7; return b }(),
		"huge-varint": append(bytes.Clone(good[:HeaderLen]), 1, 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	for name, data := range cases {
		if err := Validate(data); !errors.Is(err, base.ErrCorruption) {
			t.Errorf("%s: got %v, want corruption", name, err)
		}
	}
	if err := Validate(good); err != nil {
		t.Fatal(err)
	}
}

func FuzzReader(f *testing.F) {
	good := AppendSet(make([]byte, HeaderLen), []byte("key"), []byte("value"))
	good = AppendDelete(good, []byte("k2"))
	SetCount(good, 2)
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(data)
		if err != nil {
			return
		}
		for i := 0; i < len(data)+1; i++ {
			_, _, _, ok, err := r.Next()
			if err != nil || !ok {
				return
			}
		}
		t.Fatal("reader did not terminate")
	})
}
