package record

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type goldenCase struct {
	name string
	recs [][]byte
}

// goldenCases are pinned byte for byte in testdata/NAME.log, with a readable
// chunk listing in testdata/NAME.txt. TestCPPOracle checks that C++
// LevelDB's log::Writer produces the same bytes.
func goldenCases() []goldenCase {
	return []goldenCase{
		{"small", [][]byte{[]byte("hello"), {}, []byte("world"), pattern(300, 1)}},
		// A record spanning three blocks: FIRST, MIDDLE, LAST.
		{"three-blocks", [][]byte{[]byte("a"), pattern(2*BlockSize+1000, 2), []byte("z")}},
		// Exactly 7 bytes left in block 0: a zero-length FIRST there.
		{"seven-left", [][]byte{pattern(BlockSize-2*HeaderSize, 3), []byte("abc"), []byte("d")}},
		// Exactly 7 bytes left and an empty record: a zero-length FULL.
		{"seven-left-empty", [][]byte{pattern(BlockSize-2*HeaderSize, 4), {}, []byte("e")}},
		// 6 bytes left: zero trailer, the next record starts block 1.
		{"trailer", [][]byte{pattern(BlockSize-HeaderSize-6, 5), []byte("tail")}},
		// The one record fills block 0 exactly.
		{"exact-block", [][]byte{pattern(BlockSize-HeaderSize, 6), {}}},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, offs := encodeLog(t, 0, tc.recs)
			logPath := filepath.Join("testdata", tc.name+".log")
			txtPath := filepath.Join("testdata", tc.name+".txt")
			picture := describe(got)
			if *update {
				if err := os.WriteFile(logPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(txtPath, []byte(picture), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			wantPicture, err := os.ReadFile(txtPath)
			if err != nil {
				t.Fatal(err)
			}
			if picture != string(wantPicture) {
				t.Errorf("chunk picture differs:\ngot:\n%s\nwant:\n%s", picture, wantPicture)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("bytes differ from %s at offset %d", logPath, firstDiff(got, want))
			}
			// The golden file reads back to the same records.
			res := readLog(want, false)
			if res.err.Error() != "EOF" || res.torn {
				t.Fatalf("read: err %v, torn %v", res.err, res.torn)
			}
			checkRecords(t, res, tc.recs, offs)
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func checkRecords(t *testing.T, res readResult, recs [][]byte, offs []int64) {
	t.Helper()
	if len(res.recs) != len(recs) {
		t.Fatalf("read %d records, want %d", len(res.recs), len(recs))
	}
	for i := range recs {
		if !bytes.Equal(res.recs[i], recs[i]) {
			t.Fatalf("record %d differs (len %d, want %d)", i, len(res.recs[i]), len(recs[i]))
		}
		if res.offs[i] != offs[i] {
			t.Fatalf("record %d: Offset() = %d, WriteRecord said %d", i, res.offs[i], offs[i])
		}
	}
}
