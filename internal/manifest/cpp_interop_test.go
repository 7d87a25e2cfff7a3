package manifest

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/base"
)

// cppScript drives C++ LevelDB 1.23 through plyvel: "create DIR" builds a
// database of 3000 keys spread over several levels; "scan DIR" prints the
// number of keys and checks their values. The database is left with tables
// in several levels and unflushed writes in its log.
const cppScript = `
import sys, plyvel
mode, d = sys.argv[1], sys.argv[2]
if mode == "create":
    db = plyvel.DB(d, create_if_missing=True, write_buffer_size=32*1024, compression=None)
    for r in range(3):
        for i in range(3000):
            k = (i * 7919 + r * 13) % 3000
            db.put(b"key%06d" % k, b"val%d" % k * 3)
    db.close()
else:
    db = plyvel.DB(d)
    n = 0
    for k, v in db:
        assert v == b"val%d" % int(k[3:]) * 3, (k, v)
        n += 1
    db.close()
    print(n)
`

// TestCppOpensStrataManifest replaces the MANIFEST of a database written by
// C++ LevelDB with one written by this package (a snapshot edit of the
// recovered Version, then an edit with the log and sequence numbers, framed
// as FULL log records), and checks that C++ LevelDB opens it and reads every
// key. It is skipped when /usr/bin/python3 with plyvel is not available.
func TestCppOpensStrataManifest(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import plyvel").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("C++ LevelDB via plyvel is required in CI: %v", err)
		}
		t.Skipf("C++ LevelDB via plyvel not available: %v", err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if out, err := exec.Command(python, "-c", cppScript, "create", db).CombinedOutput(); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}

	// Recover the Version C++ left.
	current, err := os.ReadFile(filepath.Join(db, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	oldName := strings.TrimSuffix(string(current), "\n")
	data, err := os.ReadFile(filepath.Join(db, oldName))
	if err != nil {
		t.Fatal(err)
	}
	payloads, _ := logRecords(t, data)
	b := NewBuilder(base.DefaultComparer, nil)
	var state VersionEdit // the last value of each scalar field
	var pointers [NumLevels][]byte
	for _, p := range payloads {
		var e VersionEdit
		if err := e.Decode(p); err != nil {
			t.Fatal(err)
		}
		if e.HasComparator && e.Comparator != base.BytewiseComparerName {
			t.Fatalf("comparator %q", e.Comparator)
		}
		if err := b.Apply(&e); err != nil {
			t.Fatal(err)
		}
		for _, cp := range e.CompactPointers {
			pointers[cp.Level] = cp.Key
		}
		if e.HasLogNumber {
			state.SetLogNumber(e.LogNumber)
		}
		if e.HasNextFileNumber {
			state.SetNextFileNumber(e.NextFileNumber)
		}
		if e.HasLastSequence {
			state.SetLastSequence(e.LastSequence)
		}
	}
	v, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if v.NumFiles(0) == 0 || v.NumFiles(0) == totalFiles(v) {
		t.Fatalf("fixture should have files in level 0 and below:\n%s", v)
	}

	// Write our own MANIFEST, numbered with the next file number.
	snap := &VersionEdit{}
	snap.SetComparator(base.BytewiseComparerName)
	for level, p := range pointers {
		if p != nil {
			snap.CompactPointers = append(snap.CompactPointers, CompactPointer{Level: level, Key: p})
		}
	}
	for level, files := range v.Levels {
		for _, f := range files {
			snap.AddFile(level, f)
		}
	}
	manifestNum := state.NextFileNumber
	tail := &VersionEdit{}
	tail.SetLogNumber(state.LogNumber)
	tail.SetPrevLogNumber(0)
	tail.SetNextFileNumber(manifestNum + 1)
	tail.SetLastSequence(state.LastSequence)
	var log []byte
	for _, e := range []*VersionEdit{snap, tail} {
		log = appendFullRecord(log, e.Encode(nil))
	}
	newName := base.MakeFilename(base.FileTypeManifest, manifestNum)
	if err := os.WriteFile(filepath.Join(db, newName), log, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(db, "CURRENT"), []byte(newName+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(db, oldName)); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(python, "-c", cppScript, "scan", db).CombinedOutput()
	if err != nil {
		t.Fatalf("C++ LevelDB rejected our MANIFEST: %v\n%s\nversion:\n%s", err, out, v)
	}
	if got := strings.TrimSpace(string(out)); got != "3000" {
		t.Fatalf("C++ LevelDB read %s keys, want 3000", got)
	}
}

// totalFiles returns the number of files in all levels.
func totalFiles(v *Version) int {
	n := 0
	for _, files := range v.Levels {
		n += len(files)
	}
	return n
}

// appendFullRecord frames payload as one FULL log record (the payload must
// fit in the current 32 KiB block; the test's MANIFEST is tiny).
func appendFullRecord(dst, payload []byte) []byte {
	if len(dst)+7+len(payload) > 32<<10 {
		panic(fmt.Sprintf("record of %d bytes does not fit in the first block", len(payload)))
	}
	crc := base.MaskCRC(base.CRCUpdate(base.CRC([]byte{1}), payload))
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(payload)))
	dst = append(dst, 1)
	return append(dst, payload...)
}
