package dataio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain key:1", "plain key:1"},
		{"a\tb\nc\\d", `a\tb\nc\\d`},
		{"\x00\x01\x7f\xff\r", `\x00\x01\x7f\xff\x0d`},
		{"héllo ✓", "héllo ✓"},
		{"\xe2\x9c", `\xe2\x9c`},     // truncated UTF-8
		{"\u200b", `\xe2\x80\x8b`},   // zero-width space: not printable
		{"x\"y,z", "x\"y,z"},         // quoting is the format's business
		{"\\x41", `\\x41`},           // a literal backslash-x stays literal
		{"\xc0\x80", `\xc0\x80`},     // overlong encoding is invalid UTF-8
		{"tab\x09end", `tab\tend`},   // tab
		{"nul\x00end", `nul\x00end`}, // NUL
		{"del\x7fend", `del\x7fend`}, // DEL
		{"\xef\xbf\xbd", "\ufffd"},   // a real U+FFFD is printable
		{"\U0001F600", "\U0001F600"}, // emoji (4-byte UTF-8)
		{"\u00a0", `\xc2\xa0`},       // no-break space: invisible, so escaped
		{"\x1b[31m", `\x1b[31m`},     // an escape sequence is defused
		{"end\\", `end\\`},           // trailing backslash
		{"\n\n", `\n\n`},             // only newlines
		{strings.Repeat("ab", 3), "ababab"},
	} {
		if got := Escape([]byte(tc.in)); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := Unescape([]byte(tc.want))
		if err != nil || string(back) != tc.in {
			t.Errorf("Unescape(%q) = %q, %v; want %q", tc.want, back, err, tc.in)
		}
	}
}

func TestUnescapeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`abc\`, "lone backslash"},
		{`a\qb`, `unknown escape "\\q" at byte 1`},
		{`\x4`, "needs two hex digits"},
		{`\xzz`, "want two hex digits"},
	} {
		_, err := Unescape([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unescape(%q) error %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
	if b, err := Unescape([]byte(`\r\X41\xAb`)); err == nil || string(b) == "" {
		// \X is not an escape (only lowercase x); uppercase hex digits are.
		_ = b
	}
	if b, err := Unescape([]byte(`\r\x41\xAb`)); err != nil || string(b) != "\rA\xab" {
		t.Errorf("Unescape: %q, %v", b, err)
	}
}

// randBytes makes keys and values that exercise every escaping rule.
func randBytes(rng *rand.Rand) []byte {
	n := rng.IntN(12)
	if rng.IntN(20) == 0 {
		n = rng.IntN(300_000) // longer than the line buffer
	}
	b := make([]byte, n)
	alphabet := []byte("ab,\"\\\t\n\r \x00\xff\xe2\x9c\x93{}:")
	for i := range b {
		if rng.IntN(2) == 0 {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		} else {
			b[i] = byte(rng.IntN(256))
		}
	}
	return b
}

// TestRoundTrip writes random binary entries in every format and encoding
// and reads them back exactly.
func TestRoundTrip(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var keys, values [][]byte
	n := 500
	if testing.Short() {
		n = 100
	}
	for i := 0; i < n; i++ {
		keys = append(keys, randBytes(rng))
		values = append(values, randBytes(rng))
	}
	for _, f := range []Format{TSV, CSV, JSONL} {
		for _, hexEnc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/hex=%v", f, hexEnc), func(t *testing.T) {
				var buf bytes.Buffer
				w := NewWriter(&buf, f, hexEnc, false)
				for i := range keys {
					if err := w.Write(keys[i], values[i]); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				r := NewReader(&buf, f, hexEnc)
				for i := range keys {
					k, v, err := r.Next()
					if err != nil {
						t.Fatalf("entry %d: %v", i, err)
					}
					if !bytes.Equal(k, keys[i]) || !bytes.Equal(v, values[i]) {
						t.Fatalf("entry %d (line %d): got %q=%q, want %q=%q", i, r.Line(), k, v, keys[i], values[i])
					}
					if f != CSV && r.Line() != i+1 {
						t.Fatalf("entry %d is on line %d", i, r.Line())
					}
				}
				if _, _, err := r.Next(); err != io.EOF {
					t.Fatalf("after the last entry: %v, want EOF", err)
				}
			})
		}
	}
}

// TestWriterGolden pins the exact output of each format.
func TestWriterGolden(t *testing.T) {
	entries := [][2]string{{"k1", "v 1"}, {"a\tb", "x,\"y\""}, {"\x00\xff", ""}}
	for _, tc := range []struct {
		f             Format
		hex, keysOnly bool
		want          string
	}{
		{TSV, false, false, "k1\tv 1\na\\tb\tx,\"y\"\n\\x00\\xff\t\n"},
		{TSV, true, false, "6b31\t762031\n610962\t782c227922\n00ff\t\n"},
		{TSV, false, true, "k1\na\\tb\n\\x00\\xff\n"},
		{CSV, false, false, "k1,v 1\r\na\\tb,\"x,\"\"y\"\"\"\r\n\\x00\\xff,\r\n"},
		{JSONL, false, false, `{"key":"azE=","value":"diAx"}` + "\n" + `{"key":"YQli","value":"eCwieSI="}` + "\n" + `{"key":"AP8=","value":""}` + "\n"},
		{JSONL, true, true, `{"key":"6b31"}` + "\n" + `{"key":"610962"}` + "\n" + `{"key":"00ff"}` + "\n"},
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf, tc.f, tc.hex, tc.keysOnly)
		for _, e := range entries {
			w.Write([]byte(e[0]), []byte(e[1]))
		}
		w.Flush()
		if buf.String() != tc.want {
			t.Errorf("%s hex=%v keysOnly=%v:\n got %q\nwant %q", tc.f, tc.hex, tc.keysOnly, buf.String(), tc.want)
		}
	}
}

// TestReaderErrors: each malformed entry is reported with its line number
// and the reason.
func TestReaderErrors(t *testing.T) {
	for _, tc := range []struct {
		f     Format
		hex   bool
		input string
		line  int
		why   string
	}{
		{TSV, false, "a\t1\nb\t2\nno tab here\n", 3, "no tab"},
		{TSV, false, "a\t1\n\nb\t2\n", 2, "empty line"},
		{TSV, false, "a\t1\tx\n", 1, "more than one tab"},
		{TSV, false, "a\t1\nb\\q\t2\n", 2, `key: unknown escape "\\q"`},
		{TSV, true, "61\t62\n6\t62\n", 2, "key: odd number of hex digits"},
		{TSV, true, "61\tzz\n", 1, "value: invalid hex"},
		{CSV, false, "a,1\nb\n", 2, "1 fields, want 2"},
		{CSV, false, "a,1\n\"b,2\n", 2, "csv:"},
		{CSV, false, "a,1\nb,2,3\n", 2, "3 fields"},
		{JSONL, false, `{"key":"YQ==","value":"Yg=="}` + "\n{\"key\":\"YQ==\"}\n", 2, `"key" and "value"`},
		{JSONL, false, "{\"key\":\"!!\",\"value\":\"\"}\n", 1, "key is not base64"},
		{JSONL, false, "not json\n", 1, "invalid JSON"},
		{JSONL, false, `{"key":"","value":"","extra":1}` + "\n", 1, "unknown field"},
		{JSONL, true, `{"key":"0g","value":""}` + "\n", 1, "key: invalid hex"},
	} {
		r := NewReader(strings.NewReader(tc.input), tc.f, tc.hex)
		var err error
		for err == nil {
			_, _, err = r.Next()
		}
		var le *LineError
		if !errors.As(err, &le) || le.Line != tc.line || !strings.Contains(le.Msg, tc.why) {
			t.Errorf("%s %q: error %v, want line %d mentioning %q", tc.f, tc.input, err, tc.line, tc.why)
		}
	}
}

func TestReaderCRLFAndLastLine(t *testing.T) {
	r := NewReader(strings.NewReader("a\t1\r\nb\t2"), TSV, false)
	var got []string
	for {
		k, v, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(k)+"="+string(v))
	}
	if strings.Join(got, " ") != "a=1 b=2" {
		t.Fatalf("got %q", got)
	}
}

func TestKeyRangeBounds(t *testing.T) {
	for _, tc := range []struct {
		r            KeyRange
		lower, upper string
		empty        bool
	}{
		{KeyRange{}, "", "", false},
		{KeyRange{From: []byte("b"), To: []byte("d")}, "b", "d", false},
		{KeyRange{Prefix: []byte("ab")}, "ab", "ac", false},
		{KeyRange{Prefix: []byte("a\xff")}, "a\xff", "b", false},
		{KeyRange{Prefix: []byte("\xff\xff")}, "\xff\xff", "", false},
		{KeyRange{Prefix: []byte("ab"), From: []byte("abc"), To: []byte("abz")}, "abc", "abz", false},
		{KeyRange{Prefix: []byte("ab"), From: []byte("a"), To: []byte("b")}, "ab", "ac", false},
		{KeyRange{Prefix: []byte("ab"), From: []byte("b")}, "b", "ac", true},
		{KeyRange{From: []byte("b"), To: []byte("b")}, "b", "b", true},
	} {
		lo, up, empty := tc.r.Bounds()
		if string(lo) != tc.lower || string(up) != tc.upper || empty != tc.empty {
			t.Errorf("%+v: got [%q, %q) empty=%v, want [%q, %q) empty=%v", tc.r, lo, up, empty, tc.lower, tc.upper, tc.empty)
		}
	}
}

// TestLoadAllOrNothing: input with a bad line anywhere is rejected by
// Prepare before anything is written; good input loads exactly, from a
// file or from a pipe (spooled), in batches.
func TestLoadAllOrNothing(t *testing.T) {
	var good strings.Builder
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&good, "key%05d\tvalue %d\n", i, i)
	}
	bad := good.String() + "key\\zz\tx\n"
	if _, err := Prepare(strings.NewReader(bad), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "line 2501:") {
		t.Fatalf("Prepare of bad input: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "in.tsv")
	os.WriteFile(path, []byte(good.String()), 0o644)
	for _, viaPipe := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipe=%v", viaPipe), func(t *testing.T) {
			var in io.Reader
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			in = f
			if viaPipe {
				in = io.MultiReader(f) // hides Seek: must be spooled
			}
			var phases []string
			inp, err := Prepare(in, LoadOptions{BatchSize: 100, DisableWAL: viaPipe, TempDir: dir,
				Progress: func(phase string, done, total int64) {
					if done == total {
						phases = append(phases, phase)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer inp.Close()
			if inp.Entries != 2500 || inp.Size() != int64(good.Len()) {
				t.Fatalf("Prepare: %d entries, %d bytes", inp.Entries, inp.Size())
			}
			db, err := strata.Open(filepath.Join(t.TempDir(), "db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			res, err := inp.LoadInto(db)
			if err != nil || res.Entries != 2500 {
				t.Fatalf("LoadInto: %+v, %v", res, err)
			}
			// (Reads run ahead of entries: a report before the end may
			// already say done == total.)
			if strings.Join(slices.Compact(phases), ",") != "validate,load" {
				t.Errorf("progress phases %v", phases)
			}
			var out bytes.Buffer
			n, err := Dump(db, &out, DumpOptions{})
			if err != nil || n != 2500 || out.String() != good.String() {
				t.Fatalf("Dump: %d entries, %v; output differs from input: %v", n, err, out.String() != good.String())
			}
		})
	}
}

// TestDump checks ranges, reverse order, limits and keys-only output
// against a model.
func TestDump(t *testing.T) {
	db, err := strata.Open(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := []string{"a", "ab", "abc", "abd", "ac", "b", "b\xff", "c"}
	for _, k := range keys {
		db.Put([]byte(k), []byte("v"+k), nil)
	}
	for _, tc := range []struct {
		o    DumpOptions
		want string
	}{
		{DumpOptions{KeysOnly: true}, "a ab abc abd ac b b\\xff c"},
		{DumpOptions{KeysOnly: true, Range: KeyRange{Prefix: []byte("ab")}}, "ab abc abd"},
		{DumpOptions{KeysOnly: true, Range: KeyRange{From: []byte("ab"), To: []byte("b")}, Reverse: true}, "ac abd abc ab"},
		{DumpOptions{KeysOnly: true, Range: KeyRange{Prefix: []byte("b")}, Reverse: true, Limit: 1}, "b\\xff"},
		{DumpOptions{KeysOnly: true, Limit: 3}, "a ab abc"},
		{DumpOptions{KeysOnly: true, Range: KeyRange{Prefix: []byte("z")}}, ""},
		{DumpOptions{Range: KeyRange{Prefix: []byte("c")}}, "c\tvc"},
	} {
		var buf bytes.Buffer
		if _, err := Dump(db, &buf, tc.o); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(strings.Fields(buf.String()), " ")
		if tc.o.KeysOnly == false {
			got = strings.TrimSuffix(buf.String(), "\n")
		}
		if got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.o, got, tc.want)
		}
	}
}
