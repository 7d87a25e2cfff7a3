package manifest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
)

// logRecords splits a small log file (every record FULL and in the first
// 32 KiB block) into its payloads, checking each header's checksum. Decoding
// the log framing in general is the record package's job.
func logRecords(t testing.TB, data []byte) (payloads [][]byte, offsets []int64) {
	t.Helper()
	if len(data) > 32<<10-6 {
		t.Fatalf("fixture has %d bytes: more than one log block", len(data))
	}
	for off := 0; off < len(data); {
		if len(data)-off < 7 {
			t.Fatalf("trailing %d bytes at offset %d", len(data)-off, off)
		}
		crc := binary.LittleEndian.Uint32(data[off:])
		n := int(binary.LittleEndian.Uint16(data[off+4:]))
		typ := data[off+6]
		if typ != 1 {
			t.Fatalf("record at %d has type %d, want FULL (1)", off, typ)
		}
		if off+7+n > len(data) {
			t.Fatalf("record at %d: length %d runs past the end", off, n)
		}
		if got := base.MaskCRC(base.CRC(data[off+6 : off+7+n])); got != crc {
			t.Fatalf("record at %d: crc %#x, want %#x", off, got, crc)
		}
		payloads = append(payloads, data[off+7:off+7+n])
		offsets = append(offsets, int64(off))
		off += 7 + n
	}
	return payloads, offsets
}

// TestVersionEditCppGolden decodes MANIFESTs written by C++ LevelDB 1.23
// (testdata/gen_cpp_manifests.py), compares the decoded edits with a
// readable golden file, and checks that re-encoding reproduces C++'s bytes
// exactly.
func TestVersionEditCppGolden(t *testing.T) {
	for _, name := range []string{"cpp-session", "cpp-reopen"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".manifest"))
			if err != nil {
				t.Fatal(err)
			}
			payloads, offsets := logRecords(t, data)
			var sb strings.Builder
			b := NewBuilder(base.DefaultComparer, nil)
			for i, p := range payloads {
				var e VersionEdit
				if err := e.DecodeAt(p, offsets[i]); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				fmt.Fprintf(&sb, "# record %d at offset %d, %d bytes\n%s", i, offsets[i], len(p), e.String())
				if got := e.Encode(nil); !bytes.Equal(got, p) {
					t.Errorf("record %d: re-encoded\n%x\nwant (C++ LevelDB)\n%x", i, got, p)
				}
				if err := b.Apply(&e); err != nil {
					t.Fatalf("record %d: apply: %v", i, err)
				}
			}
			v, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if err := v.CheckConsistency(); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sb, "# resulting version\n%s", v)
			checkGolden(t, filepath.Join("testdata", name+".golden"), sb.String())
		})
	}
}

// checkGolden compares got with the file at path (rewritten with -rewrite).
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *rewrite {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// TestVersionEditEncodeLayout pins the byte layout against bytes written
// out by hand from LevelDB's format (tags, varints, length-prefixed keys).
func TestVersionEditEncodeLayout(t *testing.T) {
	e := &VersionEdit{}
	e.SetComparator("cmp")
	e.SetLogNumber(300) // varint 0xac 0x02
	e.SetPrevLogNumber(0)
	e.SetNextFileNumber(7)
	e.SetLastSequence(1 << 56)
	e.CompactPointers = []CompactPointer{{Level: 1, Key: ikey("k#2,SET")}}
	e.DeleteFile(2, 9)
	e.DeleteFile(1, 200)
	e.DeleteFile(1, 8)
	e.AddFile(3, &FileMetadata{Num: 10, Size: 129, Smallest: ikey("a#1,DEL"), Largest: ikey("b#5,SET")})

	want := strings.Join([]string{
		"01 03 636d70",                 // comparator "cmp"
		"02 ac02",                      // log number 300
		"09 00",                        // prev log number 0
		"03 07",                        // next file 7
		"04 8080808080808080 01",       // last sequence 2^56
		"05 01 09 6b 0102000000000000", // compact pointer L1 "k"#2,SET
		"06 01 08",                     // deleted L1 8      (sorted by level,
		"06 01 c801",                   // deleted L1 200     then number)
		"06 02 09",                     // deleted L2 9
		"07 03 0a 8101 09 61 0001000000000000 09 62 0105000000000000", // new file
	}, "")
	want = strings.ReplaceAll(want, " ", "")
	got := hex.EncodeToString(e.Encode(nil))
	if got != want {
		t.Fatalf("Encode:\n got %s\nwant %s", got, want)
	}
	// Encode appends.
	if got := e.Encode([]byte("xy")); string(got[:2]) != "xy" || hex.EncodeToString(got[2:]) != want {
		t.Fatalf("Encode does not append to dst")
	}
	var d VersionEdit
	if err := d.Decode(e.Encode(nil)); err != nil {
		t.Fatal(err)
	}
	if d.String() != e.String() {
		t.Fatalf("round trip:\n%s\nwant\n%s", d.String(), e.String())
	}
	if !d.HasPrevLogNumber || d.PrevLogNumber != 0 || d.HasComparator != true {
		t.Fatalf("Has flags lost: %+v", d)
	}
}

func TestVersionEditAbsentFields(t *testing.T) {
	var e VersionEdit
	if err := e.Decode(nil); err != nil {
		t.Fatal(err)
	}
	if e.HasComparator || e.HasLogNumber || e.HasPrevLogNumber || e.HasNextFileNumber || e.HasLastSequence {
		t.Fatalf("empty edit has fields: %+v", e)
	}
	if got := e.Encode(nil); len(got) != 0 {
		t.Fatalf("empty edit encodes to %x", got)
	}
	// A zero that is present is encoded; an absent one is not.
	e.SetLastSequence(0)
	if got := hex.EncodeToString(e.Encode(nil)); got != "0400" {
		t.Fatalf("present zero encodes to %s", got)
	}
}

func TestVersionEditDecodeCorrupt(t *testing.T) {
	goodKey := "09" + "61" + "0001000000000000" // "a"#1,SET
	tests := []struct {
		name, hex, wantMsg string
	}{
		{"unknown tag 8", "08", "tag at byte 0 of 1: unknown tag 8"},
		{"unknown tag 100", "0201 64", "unknown tag 100"},
		{"truncated tag varint", "0201 80", "tag at byte 2 of 3: truncated"},
		{"tag beyond varint32", "8080808010", "tag at byte 0"},
		{"comparator truncated", "01 05 6162", "comparator name at byte 0"},
		{"comparator no length", "01", "comparator name"},
		{"log number truncated", "02 ff", "log number at byte 0"},
		{"prev log number missing", "09", "previous log number"},
		{"next file over-long", "03 ffffffffffffffffffff01", "next file number"},
		{"last sequence missing", "04", "last sequence number"},
		{"compact pointer level", "05 07 " + goodKey, "compaction pointer at byte 0 of 12: level 7 >= 7"},
		{"compact pointer short key", "05 01 03 616263", "compaction pointer at byte 0 of 6: bad internal key"},
		{"compact pointer bad kind", "05 01 09 61 0301000000000000", "bad internal key"},
		{"compact pointer key truncated", "05 01 09 61", "truncated key"},
		{"deleted file level", "06 09 01", "deleted file at byte 0 of 3: level 9 >= 7"},
		{"deleted file level huge", "06 ffffffff0f 01", "deleted file"},
		{"deleted file number", "06 01", "deleted file at byte 0 of 2: truncated file number"},
		{"new file level", "07 07 01 01 " + goodKey + goodKey, "new-file entry at byte 0 of 24: level 7 >= 7"},
		{"new file size missing", "07 00 01", "truncated file size"},
		{"new file smallest missing", "07 00 01 02", "truncated smallest key"},
		{"new file largest missing", "07 00 01 02 " + goodKey, "truncated largest key"},
		{"new file bad largest", "07 00 01 02 " + goodKey + "02 6161", "bad internal largest key"},
		{"second field bad", "0201 0302 08", "tag at byte 4 of 5: unknown tag 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(strings.ReplaceAll(tt.hex, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			var e VersionEdit
			err = e.DecodeAt(b, 4242)
			if err == nil {
				t.Fatalf("Decode(%x) succeeded: %v", b, e.String())
			}
			var ce *base.CorruptionError
			if !errors.As(err, &ce) || !errors.Is(err, base.ErrCorruption) {
				t.Fatalf("error %v (%T) is not a CorruptionError", err, err)
			}
			if ce.Offset != 4242 || ce.File != "" {
				t.Fatalf("error location %q/%d, want \"\"/4242", ce.File, ce.Offset)
			}
			if !strings.Contains(ce.Msg, tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", ce.Msg, tt.wantMsg)
			}
			named := base.WithFile(err, "MANIFEST-000002")
			if !strings.Contains(named.Error(), "MANIFEST-000002 at offset 4242") {
				t.Fatalf("WithFile: %v", named)
			}
		})
	}
	var e VersionEdit
	if err := e.Decode([]byte{8}); err == nil || !strings.Contains(err.Error(), "corruption: version edit") {
		t.Fatalf("Decode without offset: %v", err)
	} else if ce := (*base.CorruptionError)(nil); errors.As(err, &ce) && ce.Offset != -1 {
		t.Fatalf("Decode offset %d, want -1", ce.Offset)
	}
}

// TestVersionEditDecodeMutations decodes every prefix and every single-byte
// corruption of real edits: no panic, and every failure is a corruption.
func TestVersionEditDecodeMutations(t *testing.T) {
	var inputs [][]byte
	for _, name := range []string{"cpp-session", "cpp-reopen"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".manifest"))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := logRecords(t, data)
		inputs = append(inputs, p...)
	}
	check := func(b []byte) {
		var e VersionEdit
		if err := e.Decode(b); err != nil {
			if !errors.Is(err, base.ErrCorruption) {
				t.Fatalf("Decode(%x): non-corruption error %v", b, err)
			}
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		var again VersionEdit
		if err := again.Decode(e.Encode(nil)); err != nil || again.String() != e.String() {
			t.Fatalf("Decode(%x) round trip: %v\n%s\nvs\n%s", b, err, again.String(), e.String())
		}
		bld := NewBuilder(nil, nil)
		if bld.Apply(&e) == nil {
			if v, err := bld.Finish(); err == nil {
				if err := v.CheckConsistency(); err != nil {
					t.Fatalf("Finish accepted an inconsistent version: %v", err)
				}
			}
		}
	}
	for _, in := range inputs {
		for n := range len(in) {
			check(in[:n])
		}
		for i := range in {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(in)
				b[i] ^= x
				check(b)
			}
		}
	}
}

// randomEdit returns a random edit with valid contents.
func randomEdit(rng *rand.Rand, nextNum *uint64) *VersionEdit {
	e := &VersionEdit{}
	if rng.IntN(2) == 0 {
		e.SetComparator(fmt.Sprintf("cmp-%d", rng.IntN(100)))
	}
	if rng.IntN(2) == 0 {
		e.SetLogNumber(rng.Uint64() >> rng.IntN(64))
	}
	if rng.IntN(3) == 0 {
		e.SetPrevLogNumber(rng.Uint64() >> rng.IntN(64))
	}
	if rng.IntN(2) == 0 {
		e.SetNextFileNumber(rng.Uint64() >> rng.IntN(64))
	}
	if rng.IntN(2) == 0 {
		e.SetLastSequence(rng.Uint64() >> (8 + rng.IntN(56)))
	}
	randKey := func() []byte {
		u := make([]byte, rng.IntN(20))
		for i := range u {
			u[i] = byte(rng.IntN(256))
		}
		return base.AppendInternalKey(nil, u, rng.Uint64()>>(8+rng.IntN(56)), base.Kind(rng.IntN(2)))
	}
	for range rng.IntN(3) {
		e.CompactPointers = append(e.CompactPointers, CompactPointer{Level: rng.IntN(NumLevels), Key: randKey()})
	}
	for range rng.IntN(5) {
		e.DeleteFile(rng.IntN(NumLevels), rng.Uint64()>>rng.IntN(64))
	}
	for range rng.IntN(5) {
		*nextNum++
		e.AddFile(rng.IntN(NumLevels), &FileMetadata{Num: *nextNum, Size: rng.Uint64() >> rng.IntN(64),
			Smallest: randKey(), Largest: randKey()})
	}
	return e
}

func TestVersionEditRandomRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	defer func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, seed))
	var num uint64
	for range 2000 {
		e := randomEdit(rng, &num)
		enc := e.Encode(nil)
		var d VersionEdit
		if err := d.Decode(enc); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if d.String() != e.String() {
			t.Fatalf("seed %d: round trip\n%s\nwant\n%s", seed, d.String(), e.String())
		}
		if !bytes.Equal(d.Encode(nil), enc) {
			t.Fatalf("seed %d: re-encoding differs", seed)
		}
	}
}

// TestVersionEditDecodeCopies checks that decoded keys do not alias the
// input buffer (the log reader reuses it).
func TestVersionEditDecodeCopies(t *testing.T) {
	e := &VersionEdit{}
	e.SetComparator("name")
	e.CompactPointers = []CompactPointer{{Level: 1, Key: ikey("p#1,SET")}}
	e.AddFile(1, &FileMetadata{Num: 1, Size: 1, Smallest: ikey("a#1,SET"), Largest: ikey("b#1,SET")})
	buf := e.Encode(nil)
	var d VersionEdit
	if err := d.Decode(buf); err != nil {
		t.Fatal(err)
	}
	want := d.String()
	for i := range buf {
		buf[i] = 0xee
	}
	if d.String() != want {
		t.Fatalf("decoded edit changed with its input buffer")
	}
	// Appending to Smallest must not clobber Largest.
	m := d.NewFiles[0].Meta
	_ = append(m.Smallest, 'x')
	if !bytes.Equal(m.Largest, ikey("b#1,SET")) {
		t.Fatalf("Smallest and Largest share capacity")
	}
}

func FuzzVersionEditDecode(f *testing.F) {
	for _, name := range []string{"cpp-session", "cpp-reopen"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".manifest"))
		if err != nil {
			f.Fatal(err)
		}
		p, _ := logRecords(f, data)
		for _, r := range p {
			f.Add(r)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{8})
	f.Add([]byte{7, 1, 5, 100, 9, 'a', 1, 0, 0, 0, 0, 0, 0, 0, 9, 'b', 1, 0, 0, 0, 0, 0, 0, 0})
	marked := &VersionEdit{Merger: "strata.add", HasMerger: true}
	marked.SetComparator(ExtendedComparatorName("leveldb.BytewiseComparator"))
	f.Add(marked.Encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e VersionEdit
		if err := e.Decode(b); err != nil {
			if !errors.Is(err, base.ErrCorruption) {
				t.Fatalf("non-corruption error %v", err)
			}
			return
		}
		enc := e.Encode(nil)
		var again VersionEdit
		if err := again.Decode(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.String() != e.String() || !bytes.Equal(again.Encode(nil), enc) {
			t.Fatalf("round trip mismatch")
		}
		bld := NewBuilder(nil, nil)
		if bld.Apply(&e) == nil {
			if v, err := bld.Finish(); err == nil {
				if err := v.CheckConsistency(); err != nil {
					t.Fatalf("Finish accepted an inconsistent version: %v", err)
				}
			}
		}
	})
}

func benchEdit() *VersionEdit {
	e := &VersionEdit{}
	e.SetComparator(base.BytewiseComparerName)
	e.SetLogNumber(12)
	e.SetNextFileNumber(1000)
	e.SetLastSequence(123456789)
	e.CompactPointers = []CompactPointer{{Level: 1, Key: ikey("key000500#77,SET")}}
	for i := range 4 {
		e.DeleteFile(1, uint64(100+i))
	}
	for i := range 8 {
		e.AddFile(2, &FileMetadata{Num: uint64(200 + i), Size: 2 << 20,
			Smallest: ikey(fmt.Sprintf("key%06d#%d,SET", i*100, i)),
			Largest:  ikey(fmt.Sprintf("key%06d#%d,SET", i*100+99, i))})
	}
	return e
}

func BenchmarkVersionEditEncode(b *testing.B) {
	e := benchEdit()
	buf := e.Encode(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = e.Encode(buf[:0])
	}
}

func BenchmarkVersionEditDecode(b *testing.B) {
	buf := benchEdit().Encode(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	var e VersionEdit
	for b.Loop() {
		if err := e.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExtendedMarks: the marked comparator name and the merge operator's
// record round-trip, and a MANIFEST carrying them replays with the
// comparator's plain name, marked extended, the operator recorded; Create
// writes the operator in a record of its own after the snapshot.
func TestExtendedMarks(t *testing.T) {
	name := "leveldb.BytewiseComparator"
	if n, ext := SplitComparatorName(ExtendedComparatorName(name)); n != name || !ext {
		t.Fatalf("SplitComparatorName = %q, %v", n, ext)
	}
	if n, ext := SplitComparatorName(name); n != name || ext {
		t.Fatalf("SplitComparatorName(plain) = %q, %v", n, ext)
	}
	fs := vfs.NewMem()
	fs.MkdirAll("db", 0o755)
	snap := &VersionEdit{Merger: "strata.max", HasMerger: true}
	snap.SetComparator(ExtendedComparatorName(name))
	snap.SetLogNumber(0)
	snap.SetNextFileNumber(3)
	snap.SetLastSequence(7)
	if err := CreateCurrent(fs, "db", 2, snap); err != nil {
		t.Fatal(err)
	}
	var edits []string
	st, err := Replay(fs, "db", ReplayOptions{Comparer: base.DefaultComparer, OnEdit: func(e *VersionEdit, _ int64) error {
		edits = append(edits, fmt.Sprintf("comparator=%v merger=%v", e.HasComparator, e.HasMerger))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Extended || st.Merger != "strata.max" {
		t.Fatalf("replayed Extended=%v Merger=%q", st.Extended, st.Merger)
	}
	if fmt.Sprint(edits) != "[comparator=true merger=false comparator=false merger=true]" {
		t.Fatalf("records %v: the operator must follow the snapshot in a record of its own", edits)
	}
}
