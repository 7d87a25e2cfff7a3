package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
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

// batchOp is one decoded record.
type batchOp struct {
	kind       base.Kind
	key, value string
}

// readOps decodes every record of data; err is the first error (from
// NewReader or Next), with the records read before it. It fails t if the
// reader does not stop within the header's count of records.
func readOps(t *testing.T, data []byte) ([]batchOp, error) {
	r, err := NewReader(data)
	if err != nil {
		return nil, err
	}
	var ops []batchOp
	for range uint64(Count(data)) + 2 {
		kind, key, value, ok, err := r.Next()
		if err != nil || !ok {
			return ops, err
		}
		ops = append(ops, batchOp{kind, string(key), string(value)})
	}
	t.Fatalf("the reader returned more than the %d records its header counts", Count(data))
	return nil, nil
}

// encodeOps encodes ops as a batch with sequence seq.
func encodeOps(seq uint64, ops []batchOp) []byte {
	data := make([]byte, HeaderLen)
	for _, op := range ops {
		switch op.kind {
		case base.KindSet:
			data = AppendSet(data, []byte(op.key), []byte(op.value))
		case base.KindMerge:
			data = AppendMerge(data, []byte(op.key), []byte(op.value))
		case base.KindRangeDelete:
			data = AppendRangeDelete(data, []byte(op.key), []byte(op.value))
		default:
			data = AppendDelete(data, []byte(op.key))
		}
	}
	SetSeq(data, seq)
	SetCount(data, uint32(len(ops)))
	return data
}

// fuzzOps turns arbitrary bytes into batch operations: per operation a
// byte of kind (low two bits: delete, set, merge, range delete) and key
// length, a byte of value length, then the key and the value, cut short
// where the bytes end.
func fuzzOps(data []byte) []batchOp {
	var ops []batchOp
	take := func(n int) string {
		n = min(n, len(data))
		s := string(data[:n])
		data = data[n:]
		return s
	}
	for len(data) >= 2 {
		kind := []base.Kind{base.KindDelete, base.KindSet, base.KindMerge, base.KindRangeDelete}[data[0]&3]
		klen, vlen := int(data[0]>>2), int(data[1])
		if kind == base.KindDelete {
			vlen = 0
		}
		data = data[2:]
		ops = append(ops, batchOp{kind, take(klen), take(vlen)})
	}
	return ops
}

// modelDecode decodes data plainly by the layout in the package comment:
// the reference FuzzReader holds the Reader to. ok is false where the
// layout is broken or the records disagree with the header's count.
func modelDecode(data []byte) (ops []batchOp, ok bool) {
	if len(data) < HeaderLen {
		return nil, false
	}
	rest := data[HeaderLen:]
	str := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	for len(rest) > 0 {
		op := batchOp{kind: base.Kind(rest[0])}
		rest = rest[1:]
		if !op.kind.Valid() {
			return nil, false
		}
		if op.key, ok = str(); !ok {
			return nil, false
		}
		if op.kind != base.KindDelete {
			if op.value, ok = str(); !ok {
				return nil, false
			}
		}
		ops = append(ops, op)
	}
	return ops, uint64(len(ops)) == uint64(Count(data))
}

// FuzzReader checks the batch decoder two ways on every input:
//   - the input as a batch, damaged or not: the Reader accepts exactly what
//     modelDecode accepts and returns the same records; every error is a
//     corruption error; Validate agrees; the reader stops within the
//     header's count;
//   - a valid batch built from the input's bytes (fuzzOps) reads back
//     exactly the operations it was built from.
func FuzzReader(f *testing.F) {
	good := AppendSet(make([]byte, HeaderLen), []byte("key"), []byte("value"))
	good = AppendDelete(good, []byte("k2"))
	SetCount(good, 2)
	f.Add(good)
	f.Add([]byte{})
	f.Add(encodeOps(7, []batchOp{{base.KindSet, "", ""}, {base.KindDelete, "k", ""}, {base.KindSet, "a", string(make([]byte, 300))}}))
	f.Add(encodeOps(9, []batchOp{{base.KindMerge, "m", "+1"}, {base.KindRangeDelete, "a", "z"}, {base.KindDelete, "k", ""}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := readOps(t, data)
		if err != nil && !errors.Is(err, base.ErrCorruption) {
			t.Fatalf("error %v is not corruption", err)
		}
		want, ok := modelDecode(data)
		if ok != (err == nil) || ok && !slices.Equal(ops, want) {
			t.Fatalf("read %v, %v; the layout says %v (valid %v)", ops, err, want, ok)
		}
		if verr := Validate(data); (verr == nil) != ok {
			t.Fatalf("Validate says %v; the layout says valid %v", verr, ok)
		}

		want = fuzzOps(data)
		valid := encodeOps(uint64(len(data)), want)
		got, err := readOps(t, valid)
		if err != nil || !slices.Equal(got, want) || Seq(valid) != uint64(len(data)) {
			t.Fatalf("valid batch of %d operations read back as %d: %v, %v (want %v)", len(want), len(got), got, err, want)
		}
	})
}
