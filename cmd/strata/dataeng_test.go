package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// randomInput returns unsorted hex TSV lines with repeated keys (keys with
// 0x00 bytes and the empty key among them) and the last value of each key.
func randomInput(rng *rand.Rand, n int) (string, map[string]string) {
	var b strings.Builder
	last := map[string]string{}
	for i := range n {
		k := make([]byte, rng.IntN(5))
		for j := range k {
			k[j] = []byte{0, 'a', 'b', 0xff}[rng.IntN(4)]
		}
		if i%3 == 0 {
			k = fmt.Appendf(nil, "key%06d", rng.IntN(n))
		}
		v := fmt.Sprintf("v%d", i)
		fmt.Fprintf(&b, "%x\t%x\n", k, v)
		last[string(k)] = v
	}
	return b.String(), last
}

// TestLoadParallelAndScanCount: load through tables (one loader or
// --parallel N) leaves what a load in --batches leaves (from a file and
// from stdin), and scan --count --parallel N
// counts every entry once, in parts that tile the key space.
func TestLoadParallelAndScanCount(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	input, last := randomInput(rng, 20000)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.tsv")
	os.WriteFile(src, []byte(input), 0o644)

	seq := filepath.Join(dir, "seq")
	mustStrata(t, "", "load", "--db", seq, "--hex", "--batches", src)
	want := mustStrata(t, "", "export", "--db", seq, "--hex")
	if n := strings.Count(want, "\n"); n != len(last) {
		t.Fatalf("sequential load: %d entries, want %d", n, len(last))
	}
	for i, args := range [][]string{{src}, {"--parallel", "3", "--no-wal", src}, {"--parallel", "2", "-"}} {
		db := filepath.Join(dir, fmt.Sprint("par", i))
		stdin := ""
		if args[len(args)-1] == "-" {
			stdin = input
		}
		out := mustStrata(t, stdin, append([]string{"load", "--db", db, "--hex"}, args...)...)
		if !regexp.MustCompile(`^loaded 20000 entries, \d+ bytes in [0-9.]+ s: \d+ entries/s\n$`).MatchString(out) {
			t.Errorf("load %v summary: %q", args, out)
		}
		if got := mustStrata(t, "", "export", "--db", db, "--hex"); got != want {
			t.Fatalf("load %v differs from a sequential load", args)
		}
		ents, _ := os.ReadDir(db)
		for _, e := range ents {
			if e.IsDir() {
				t.Fatalf("load %v left %s in the database directory", args, e.Name())
			}
		}
	}

	// Into the same database again: the same input changes nothing.
	db := filepath.Join(dir, "par0")
	mustStrata(t, "", "load", "--db", db, "--hex", "--parallel", "2", src)
	if got := mustStrata(t, "", "export", "--db", db, "--hex"); got != want {
		t.Fatal("a second parallel load of the same input changed the database")
	}

	var wantBytes int64
	for k, v := range last {
		wantBytes += int64(len(k) + len(v))
	}
	for _, n := range []int{1, 2, 5} {
		out := mustStrata(t, "", "scan", "--db", db, "--count", "--parallel", strconv.Itoa(n), "--hex")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		partRE := regexp.MustCompile(`^part=(\d+)\tfrom=(-|[0-9a-f]*)\tto=(-|[0-9a-f]*)\tentries=(\d+)\tbytes=(\d+)$`)
		var entries, bytes int64
		prevTo := "-"
		for i, line := range lines[:len(lines)-1] {
			m := partRE.FindStringSubmatch(line)
			if m == nil || m[1] != strconv.Itoa(i) || m[2] != prevTo {
				t.Fatalf("--parallel %d: line %q (previous part ended at %s)", n, line, prevTo)
			}
			prevTo = m[3]
			e, _ := strconv.ParseInt(m[4], 10, 64)
			b, _ := strconv.ParseInt(m[5], 10, 64)
			entries += e
			bytes += b
		}
		if prevTo != "-" {
			t.Fatalf("--parallel %d: the last part ends at %s", n, prevTo)
		}
		wantTotal := fmt.Sprintf("total\tparts=%d\tentries=%d\tbytes=%d", len(lines)-1, len(last), wantBytes)
		if lines[len(lines)-1] != wantTotal || entries != int64(len(last)) || bytes != wantBytes {
			t.Fatalf("--parallel %d:\n%s\nwant total %q", n, out, wantTotal)
		}
		if n > 1 && len(lines)-1 < 2 {
			t.Fatalf("--parallel %d made one part:\n%s", n, out)
		}
	}
	out := mustStrata(t, "", "scan", "--db", db, "--count", "--prefix", "key")
	if !strings.HasPrefix(out, "part=0\tfrom=key\tto=kez\t") {
		t.Fatalf("scan --count --prefix: %q", out)
	}
	wantError(t, runStrata(t, "", "scan", "--db", db, "--parallel", "2"), 2, "needs --count")
	wantError(t, runStrata(t, "", "scan", "--db", db, "--count", "--parallel", "0"), 2, "--parallel 0")
}

// TestSetops: counts and emitted keys equal the in-memory computation, for
// every --emit and with and without --parallel.
func TestSetops(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 6))
	dir := t.TempDir()
	leftIn, left := randomInput(rng, 3000)
	rightIn, right := randomInput(rng, 800)
	l, r := filepath.Join(dir, "l"), filepath.Join(dir, "r")
	mustStrata(t, leftIn, "load", "--db", l, "--hex", "-")
	mustStrata(t, rightIn, "load", "--db", r, "--hex", "--parallel", "2", "-")
	mustStrata(t, "", "compact", "--db", l)

	sets := map[string][]string{}
	both := 0
	for k := range left {
		if _, ok := right[k]; ok {
			both++
			sets["both"] = append(sets["both"], fmt.Sprintf("%x", k))
		} else {
			sets["left"] = append(sets["left"], fmt.Sprintf("%x", k))
		}
	}
	for k := range right {
		if _, ok := left[k]; !ok {
			sets["right"] = append(sets["right"], fmt.Sprintf("%x", k))
		}
	}
	for _, s := range sets {
		slices.Sort(s) // hex order is byte order
	}
	counts := fmt.Sprintf("left=%d right=%d both=%d\n", len(left), len(right), both)
	for _, parallel := range []string{"1", "4"} {
		if out := mustStrata(t, "", "setops", "--left", l, "--right", r, "--parallel", parallel); out != counts {
			t.Fatalf("--parallel %s: %q, want %q", parallel, out, counts)
		}
		for _, emit := range []string{"left", "right", "both"} {
			out := mustStrata(t, "", "setops", "--left", l, "--right", r, "--parallel", parallel, "--emit", emit, "--hex")
			want := counts + strings.Join(sets[emit], "\n") + "\n"
			if len(sets[emit]) == 0 {
				want = counts
			}
			if out != want {
				t.Fatalf("--parallel %s --emit %s:\n%.300s\nwant\n%.300s", parallel, emit, out, want)
			}
		}
	}
	// Without --hex the keys are in scan's text form.
	text := mustStrata(t, "", "setops", "--left", l, "--right", r, "--emit", "left")
	scanned := map[string]bool{}
	for _, k := range strings.Split(mustStrata(t, "", "scan", "--db", l, "--keys-only"), "\n") {
		scanned[k] = true
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")[1:]
	if len(lines) != len(sets["left"]) {
		t.Fatalf("--emit left in text: %d keys, want %d", len(lines), len(sets["left"]))
	}
	for _, k := range lines {
		if !scanned[k] {
			t.Fatalf("--emit left printed %q, which scan does not print", k)
		}
	}

	// Bounds: keys starting "key" only.
	var lk, rk, bk int
	for k := range left {
		if strings.HasPrefix(k, "key") {
			lk++
			if _, ok := right[k]; ok {
				bk++
			}
		}
	}
	for k := range right {
		if strings.HasPrefix(k, "key") {
			rk++
		}
	}
	if out, want := mustStrata(t, "", "setops", "--left", l, "--right", r, "--prefix", "key"), fmt.Sprintf("left=%d right=%d both=%d\n", lk, rk, bk); out != want {
		t.Fatalf("--prefix key: %q, want %q", out, want)
	}
	wantError(t, runStrata(t, "", "setops", "--left", l, "--right", r, "--emit", "all"), 2, "--emit")
	wantError(t, runStrata(t, "", "setops", "--left", l), 2, "required flag")
	wantError(t, runStrata(t, "", "setops", "--left", l, "--right", filepath.Join(dir, "missing")), 1, "missing")
}

// TestGroupbyGolden: the worked example of the help text and the docs, on
// a TSV file of orders (region, product, quantity, price), with a 0x00 in
// one group and an empty group.
func TestGroupbyGolden(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "orders")
	mustStrata(t, "", "load", "--db", db, "testdata/groupby/sales.tsv")
	var got strings.Builder
	for _, tc := range [][]string{
		{"--key-field", "2", "--sum-field", "5"},
		{"--key-field", "3", "--sum-field", "4", "--parallel", "1"},
		{"--key-field", "3"},
		{"--key-field", "1"},
	} {
		out := filepath.Join(dir, strings.Join(tc, ""))
		summary := mustStrata(t, "", append([]string{"groupby", "--db", db, "--out", out, "--scratch", dir}, tc...)...)
		if !regexp.MustCompile(`^grouped 8 rows into \d+ groups in [0-9.]+ s\n$`).MatchString(summary) {
			t.Errorf("summary %q", summary)
		}
		fmt.Fprintf(&got, "# groupby %s\n%s", strings.Join(tc, " "), mustStrata(t, "", "scan", "--db", out))
	}
	golden := "testdata/groupby/sales.golden"
	if *update {
		os.WriteFile(golden, []byte(got.String()), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("got\n%s\nwant (%s)\n%s", got.String(), golden, want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 5 {
		t.Fatalf("the scratch directory was not removed: %v", ents)
	}

	wantError(t, runStrata(t, "", "groupby", "--db", db, "--out", filepath.Join(dir, "x"), "--key-field", "6"), 1, "row o-0001 has no field 6")
	wantError(t, runStrata(t, "", "groupby", "--db", db, "--out", filepath.Join(dir, "x"), "--key-field", "2", "--sum-field", "3"), 1, `field 3 "widget" is not a number`)
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("a failed groupby left its output database: %v", err)
	}
	// An output database that existed is kept.
	existing := filepath.Join(dir, "existing")
	mustStrata(t, "", "put", "--db", existing, "k", "v")
	wantError(t, runStrata(t, "", "groupby", "--db", db, "--out", existing, "--key-field", "6"), 1, "no field 6")
	if got := mustStrata(t, "", "get", "--db", existing, "k"); got != "v\n" {
		t.Errorf("the existing output database: %q", got)
	}
	wantError(t, runStrata(t, "", "groupby", "--db", db, "--out", filepath.Join(dir, "x"), "--key-field", "2", "--format", "csv"), 2, "only tsv")
	wantError(t, runStrata(t, "", "groupby", "--db", db, "--out", db, "--key-field", "2"), 2, "is the input database")
	wantError(t, runStrata(t, "", "groupby", "--db", db, "--out", filepath.Join(dir, "x"), "--key-field", "0"), 2, "numbered from 1")
}

// TestGroupbyExactIntegers: sums of integers are exact, past float64's
// 2^53 and past int64's range; a group with a fraction sums as float64.
func TestGroupbyExactIntegers(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	in := "r1\ta\t9007199254740993\nr2\ta\t1\n" + // 2^53+1: float64 rounds it
		"r3\tb\t9223372036854775807\nr4\tb\t9223372036854775807\n" + // past int64
		"r5\tc\t-5\nr6\tc\t2.5\n"
	mustStrata(t, in, "load", "--db", db, "--key-column", "1", "-") // the rest of the row is the value
	out := filepath.Join(dir, "out")
	mustStrata(t, "", "groupby", "--db", db, "--out", out, "--key-field", "2", "--sum-field", "3", "--scratch", dir)
	want := "a\t2\\t9007199254740994\nb\t2\\t18446744073709551614\nc\t2\\t-2.5\n"
	if got := mustStrata(t, "", "scan", "--db", out); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestGroupbyModel: per-group counts and sums equal the in-memory
// computation on random rows.
func TestGroupbyModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 8))
	dir := t.TempDir()
	var in strings.Builder
	count := map[string]int{}
	sum := map[string]int64{}
	for i := range 5000 {
		g := []string{"a", "b", "a\\x00", "\\x00", "", "zz"}[rng.IntN(6)]
		x := rng.Int64N(1000) - 500
		fmt.Fprintf(&in, "row%05d\t%s\\t%d\n", i, g, x)
		count[g]++
		sum[g] += x
	}
	db := filepath.Join(dir, "db")
	mustStrata(t, in.String(), "load", "--db", db, "-")
	out := filepath.Join(dir, "out")
	mustStrata(t, "", "groupby", "--db", db, "--out", out, "--key-field", "2", "--sum-field", "3", "--scratch", dir, "--parallel", "3")
	var want []string
	for g := range count {
		want = append(want, fmt.Sprintf("%s\t%d\\t%d", g, count[g], sum[g]))
	}
	slices.Sort(want)
	got := strings.Split(strings.TrimSuffix(mustStrata(t, "", "scan", "--db", out), "\n"), "\n")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
