package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/internal/testenv"
)

const (
	cppLib     = "/usr/lib/x86_64-linux-gnu/libleveldb.a"
	cppInclude = "/usr/include/leveldb/env.h"
)

// buildOracle compiles testdata/cpporacle/oracle.cc against C++ LevelDB's
// static library (testenv.CppLevelDB: skipped where missing, except in
// CI).
func buildOracle(t *testing.T) string {
	t.Helper()
	gxx := testenv.CppLevelDB(t, cppLib, cppInclude)
	bin := filepath.Join(t.TempDir(), "oracle")
	out, err := exec.Command(gxx, "-O1", "-std=c++17", "-o", bin,
		filepath.Join("testdata", "cpporacle", "oracle.cc"), cppLib, "-lpthread").CombinedOutput()
	if err != nil {
		t.Fatalf("building the C++ oracle: %v\n%s", err, out)
	}
	return bin
}

func frames(recs [][]byte) []byte {
	var b []byte
	for _, r := range recs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

func unframe(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var recs [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("bad frame file")
		}
		n := int(binary.LittleEndian.Uint32(b))
		recs = append(recs, b[4:4+n])
		b = b[4+n:]
	}
	return recs
}

// cppWrite has C++ LevelDB's log::Writer(dest, offset) encode recs.
func cppWrite(t *testing.T, oracle string, offset int64, recs [][]byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "recs"), filepath.Join(dir, "log")
	if err := os.WriteFile(in, frames(recs), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(oracle, "write", in, out, fmt.Sprint(offset)).CombinedOutput(); err != nil {
		t.Fatalf("oracle write: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cppRead has C++ LevelDB's log::Reader read data; it returns the records
// and what its reporter printed.
func cppRead(t *testing.T, oracle string, data []byte) ([][]byte, string) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "log"), filepath.Join(dir, "recs")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(oracle, "read", in, out)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("oracle read: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return unframe(t, b), stderr.String()
}

// TestCPPOracle checks Strata's log bytes against C++ LevelDB 1.23's own
// log::Writer and log::Reader, in both directions.
func TestCPPOracle(t *testing.T) {
	oracle := buildOracle(t)

	t.Run("golden", func(t *testing.T) {
		for _, tc := range goldenCases() {
			want, err := os.ReadFile(filepath.Join("testdata", tc.name+".log"))
			if err != nil {
				t.Fatal(err)
			}
			if got := cppWrite(t, oracle, 0, tc.recs); !bytes.Equal(got, want) {
				t.Errorf("%s: C++ bytes differ from the golden file at offset %d", tc.name, firstDiff(got, want))
			}
		}
	})

	t.Run("random-offsets", func(t *testing.T) {
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 0))
		offsets := []int64{0, 1, BlockSize - 8, BlockSize - 7, BlockSize - 6, BlockSize - 1, BlockSize, 3*BlockSize + 5}
		for range 4 {
			offsets = append(offsets, rng.Int64N(10*BlockSize))
		}
		for _, off := range offsets {
			recs := randRecords(rng, 30, 100<<10)
			got, _ := encodeLog(t, off, recs)
			if want := cppWrite(t, oracle, off, recs); !bytes.Equal(got, want) {
				t.Fatalf("seed %d offset %d: bytes differ from C++ at %d", seed, off, firstDiff(got, want))
			}
		}
	})

	t.Run("cpp-reads-strata", func(t *testing.T) {
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 0))
		recs := randRecords(rng, 200, 100<<10)
		data, _ := encodeLog(t, 0, recs)
		got, drops := cppRead(t, oracle, data)
		if drops != "" {
			t.Fatalf("seed %d: C++ reported drops:\n%s", seed, drops)
		}
		if len(got) != len(recs) {
			t.Fatalf("seed %d: C++ read %d records, want %d", seed, len(got), len(recs))
		}
		for i := range recs {
			if !bytes.Equal(got[i], recs[i]) {
				t.Fatalf("seed %d: C++ record %d differs", seed, i)
			}
		}
	})

	// On a torn tail both readers stop at the same record, silently.
	t.Run("torn-tail-agrees", func(t *testing.T) {
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 0))
		recs := randRecords(rng, 20, 50<<10)
		data, _ := encodeLog(t, 0, recs)
		for range 20 {
			cut := rng.IntN(len(data) + 1)
			cppRecs, drops := cppRead(t, oracle, data[:cut])
			res := readLog(data[:cut], false)
			if res.err.Error() != "EOF" || drops != "" || len(cppRecs) != len(res.recs) {
				t.Fatalf("seed %d cut %d: strata %d records (%v), C++ %d records (%q)",
					seed, cut, len(res.recs), res.err, len(cppRecs), drops)
			}
		}
	})
}
