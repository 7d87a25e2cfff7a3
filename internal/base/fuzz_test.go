package base

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Fuzz targets for the key comparator paths: internal key encoding and
// parsing, internal key order, and the separator and successor rules that
// shorten index keys. The seeds in testdata/fuzz run with every go test;
// scripts/fuzz.sh runs each target for minutes.

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// FuzzInternalKey: encoding then parsing gives back the parts, for every
// valid (key, sequence, kind); parsing, validating and formatting any bytes
// never panics and agree with each other.
func FuzzInternalKey(f *testing.F) {
	f.Add([]byte("key"), uint64(7), byte(KindSet), []byte("raw"))
	f.Add([]byte{}, MaxSeq, byte(KindDelete), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte("\xff"), uint64(0), byte(2), []byte{})
	f.Fuzz(func(t *testing.T, ukey []byte, seq uint64, kind byte, raw []byte) {
		seq &= MaxSeq
		ikey := AppendInternalKey([]byte("prefix"), ukey, seq, Kind(kind))[len("prefix"):]
		u, s, k, ok := ParseInternalKey(ikey)
		if !bytes.Equal(u, ukey) || s != seq || k != Kind(kind) || ok != Kind(kind).Valid() {
			t.Fatalf("round trip of (%q, %d, %d): (%q, %d, %d, %v)", ukey, seq, kind, u, s, k, ok)
		}
		if ValidInternalKey(ikey) != ok || !bytes.Equal(UserKey(ikey), ukey) || Trailer(ikey) != MakeTrailer(seq, Kind(kind)) {
			t.Fatalf("ValidInternalKey/UserKey/Trailer disagree with ParseInternalKey on %q", ikey)
		}
		// Any bytes.
		u, _, _, ok = ParseInternalKey(raw)
		if ok != ValidInternalKey(raw) || ok && !bytes.Equal(u, UserKey(raw)) {
			t.Fatalf("ParseInternalKey and ValidInternalKey disagree on %q", raw)
		}
		if len(raw) < TrailerLen && (UserKey(raw) != nil || Trailer(raw) != 0) {
			t.Fatalf("short key %q: UserKey %q, Trailer %d", raw, UserKey(raw), Trailer(raw))
		}
		_ = FormatInternalKey(raw)
		// A search key sorts before (or at) every entry of its user key at
		// or below its sequence, and after those above it.
		search := MakeSearchKey(nil, ukey, seq)
		if Kind(kind) <= KindMax && InternalCompare(bytes.Compare, search, ikey) > 0 {
			t.Fatalf("search key %q sorts after the entry %q it must find", search, ikey)
		}
	})
}

// FuzzInternalCompare: the internal order is a total order consistent
// with the user order and, for equal user keys, newest (largest trailer)
// first; on arbitrary bytes it is at least antisymmetric and reflexive.
func FuzzInternalCompare(f *testing.F) {
	f.Add([]byte("a"), uint64(1), byte(1), []byte("a"), uint64(2), byte(0), []byte("b"), uint64(3), byte(1))
	f.Add([]byte(""), uint64(0), byte(0), []byte("\x00"), MaxSeq, byte(1), []byte(""), MaxSeq, byte(1))
	f.Fuzz(func(t *testing.T, ua []byte, sa uint64, ka byte, ub []byte, sb uint64, kb byte, uc []byte, sc uint64, kc byte) {
		mk := func(u []byte, s uint64, k byte) []byte { return AppendInternalKey(nil, u, s&MaxSeq, Kind(k&1)) }
		a, b, c := mk(ua, sa, ka), mk(ub, sb, kb), mk(uc, sc, kc)
		cmp := func(x, y []byte) int { return InternalCompare(bytes.Compare, x, y) }
		if cmp(a, a) != 0 {
			t.Fatal("not reflexive")
		}
		ab, ba := cmp(a, b), cmp(b, a)
		if sign(ab) != -sign(ba) {
			t.Fatalf("not antisymmetric: %d, %d", ab, ba)
		}
		if uc := bytes.Compare(ua, ub); uc != 0 && sign(ab) != sign(uc) {
			t.Fatalf("internal order %d disagrees with user order %d", ab, uc)
		} else if uc == 0 {
			ta, tb := Trailer(a), Trailer(b)
			want := 0
			if ta > tb {
				want = -1
			} else if ta < tb {
				want = 1
			}
			if sign(ab) != want {
				t.Fatalf("equal user keys: trailers %d, %d compare %d", ta, tb, ab)
			}
		}
		if cmp(a, b) <= 0 && cmp(b, c) <= 0 && cmp(a, c) > 0 {
			t.Fatal("not transitive")
		}
		// Raw bytes (possibly shorter than a trailer): antisymmetric.
		if sign(cmp(ua, ub)) != -sign(cmp(ub, ua)) || cmp(ua, ua) != 0 {
			t.Fatalf("raw %q, %q: not antisymmetric", ua, ub)
		}
	})
}

// FuzzSeparatorSuccessor: for user keys a < b, Separator gives a key k
// with a <= k < b, no longer than a; Successor gives k >= a, no longer
// than a. The internal versions keep the same bounds in internal order, and
// never disturb what dst already holds.
func FuzzSeparatorSuccessor(f *testing.F) {
	f.Add([]byte("abcd"), []byte("abzz"), uint64(5), uint64(9))
	f.Add([]byte("abc"), []byte("abcd"), uint64(1), uint64(1))
	f.Add([]byte("a\xff\xff"), []byte("b"), MaxSeq, uint64(0))
	f.Add([]byte("\xff\xff"), []byte("\xff\xff\x00"), uint64(3), uint64(3))
	f.Add([]byte("same"), []byte("same"), uint64(9), uint64(2))
	f.Fuzz(func(t *testing.T, a, b []byte, sa, sb uint64) {
		c := DefaultComparer
		dst := []byte("dst")
		if bytes.Compare(a, b) < 0 {
			k := c.Separator(bytes.Clone(dst), a, b)
			if !bytes.HasPrefix(k, dst) {
				t.Fatalf("Separator(%q, %q) overwrote dst: %q", a, b, k)
			}
			k = k[len(dst):]
			if bytes.Compare(a, k) > 0 || bytes.Compare(k, b) >= 0 || len(k) > len(a) {
				t.Fatalf("Separator(%q, %q) = %q", a, b, k)
			}
		}
		k := c.Successor(bytes.Clone(dst), a)
		if !bytes.HasPrefix(k, dst) {
			t.Fatalf("Successor(%q) overwrote dst: %q", a, k)
		}
		k = k[len(dst):]
		if bytes.Compare(k, a) < 0 || len(k) > len(a) {
			t.Fatalf("Successor(%q) = %q", a, k)
		}

		icmp := func(x, y []byte) int { return InternalCompare(c.Compare, x, y) }
		ia := AppendInternalKey(nil, a, sa&MaxSeq, KindSet)
		ib := AppendInternalKey(nil, b, sb&MaxSeq, KindDelete)
		if icmp(ia, ib) > 0 {
			ia, ib = ib, ia
		}
		if icmp(ia, ib) < 0 {
			k := InternalSeparator(c, bytes.Clone(dst), ia, ib)
			if !bytes.HasPrefix(k, dst) {
				t.Fatalf("InternalSeparator overwrote dst: %q", k)
			}
			k = k[len(dst):]
			if !ValidInternalKey(k) || icmp(ia, k) > 0 || icmp(k, ib) >= 0 {
				t.Fatalf("InternalSeparator(%s, %s) = %s", FormatInternalKey(ia), FormatInternalKey(ib), FormatInternalKey(k))
			}
		}
		k = InternalSuccessor(c, bytes.Clone(dst), ia)
		if !bytes.HasPrefix(k, dst) {
			t.Fatalf("InternalSuccessor overwrote dst: %q", k)
		}
		k = k[len(dst):]
		if !ValidInternalKey(k) || icmp(k, ia) < 0 {
			t.Fatalf("InternalSuccessor(%s) = %s", FormatInternalKey(ia), FormatInternalKey(k))
		}
		if binary.LittleEndian.Uint64(k[len(k)-TrailerLen:]) != Trailer(k) {
			t.Fatal("Trailer disagrees with the encoding")
		}
	})
}
