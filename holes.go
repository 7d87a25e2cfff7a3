package strata

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	iofs "io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/vfs"
)

// Holes: key ranges whose newest data Repair could not recover.
//
// When Repair drops a damaged block of a table (or a whole table it cannot
// read), the entries it held are gone, and for every key among them an
// older version in another table would show through: a read would return a
// value that was overwritten, or a key that was deleted, with no error. So
// Repair records each such key range as a hole, and reads that touch a hole
// fail with a *HoleError until the holes are cleared (ClearHoles), which
// accepts the loss. Holes are user-key ranges [Start, End], both ends
// included; a nil Start reaches the first key, a nil End the last.
//
// They are kept in the file HOLES in the database directory, which Open and
// CatchUp read (C++ LevelDB ignores it). Its layout, one line each:
//
//	strata holes v1
//	hole START END SOURCE     (START, END: hex, or "-" for open; SOURCE: text)
//	...
//	end N CRC                 (N: the number of holes; CRC: CRC-32C of every
//	                           byte before this line, 8 hex digits)
//
// It is replaced atomically (written to HOLES.tmp, synced, renamed, the
// directory synced).

// holesFileName is the name of the holes file in a database directory.
const holesFileName = "HOLES"

// ErrHole is matched (errors.Is) by the error of a read that touches a key
// range whose newest data Repair could not recover (see HoleError).
var ErrHole = errors.New("strata: key range lost by Repair")

// Hole is a key range whose newest data Repair could not recover: [Start,
// End], both included (nil Start: from the first key; nil End: to the
// last).
type Hole struct {
	Start, End []byte
	// Source says where the data was lost ("table 000012: block at offset
	// 4096: ...").
	Source string
}

// String renders "[start, end] (source)" with keys quoted.
func (h Hole) String() string {
	return fmt.Sprintf("[%s, %s] (%s)", showHoleKey(h.Start, "first key"), showHoleKey(h.End, "last key"), h.Source)
}

func showHoleKey(k []byte, open string) string {
	if k == nil {
		return open
	}
	if len(k) > 64 {
		return fmt.Sprintf("%q...(%d bytes)", k[:64], len(k))
	}
	return fmt.Sprintf("%q", k)
}

// HoleError is the error of a read that touches a hole.
type HoleError struct {
	Hole Hole
	// Key is the key read, or where an iterator was when it reached the
	// hole (nil at an end).
	Key []byte
}

// Error says which key and range, and how to accept the loss.
func (e *HoleError) Error() string {
	return fmt.Sprintf("strata: key %s is in a range Repair could not recover, %s: a read there could show an overwritten "+
		"or deleted value; ClearHoles (strata repair --clear-holes) accepts the loss",
		showHoleKey(e.Key, "(at the iterator's end)"), e.Hole)
}

// Unwrap makes errors.Is(err, ErrHole) and errors.Is(err, ErrCorruption)
// hold: the data there was damaged.
func (e *HoleError) Unwrap() []error { return []error{ErrHole, ErrCorruption} }

// holeSet is a database's holes, sorted by Start, compared with its
// comparator. Immutable.
type holeSet struct {
	cmp   func(a, b []byte) int
	holes []Hole
}

// newHoleSet returns the set of holes, or nil when there are none.
func newHoleSet(cmp func(a, b []byte) int, holes []Hole) *holeSet {
	if len(holes) == 0 {
		return nil
	}
	hs := &holeSet{cmp: cmp, holes: slices.Clone(holes)}
	slices.SortStableFunc(hs.holes, func(a, b Hole) int {
		switch {
		case a.Start == nil && b.Start == nil:
			return 0
		case a.Start == nil:
			return -1
		case b.Start == nil:
			return 1
		}
		return cmp(a.Start, b.Start)
	})
	return hs
}

// overlapping returns a hole that has a key in the span from lo to hi (nil:
// open on that side), or nil. hiExclusive leaves hi itself out.
func (hs *holeSet) overlapping(lo, hi []byte, hiExclusive bool) *Hole {
	for i := range hs.holes {
		h := &hs.holes[i]
		if h.Start != nil && hi != nil {
			if c := hs.cmp(h.Start, hi); c > 0 || (c == 0 && hiExclusive) {
				return nil // sorted by Start: no later hole overlaps either
			}
		}
		if h.End == nil || lo == nil || hs.cmp(h.End, lo) >= 0 {
			return h
		}
	}
	return nil
}

// readHoles returns the holes recorded in dir (none if there is no HOLES
// file). A damaged file is a corruption error.
func readHoles(fs vfs.FS, dir string) ([]Hole, error) {
	path := fs.PathJoin(dir, holesFileName)
	if _, err := fs.Stat(path); errors.Is(err, iofs.ErrNotExist) {
		return nil, nil // the usual case: looked up without opening
	} else if err != nil {
		return nil, fmt.Errorf("strata: %w", err)
	}
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("strata: open %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("strata: read %s: %w", path, err)
	}
	bad := func(off int, format string, args ...any) ([]Hole, error) {
		return nil, base.CorruptionErrorf(path, int64(off), format, args...)
	}
	var holes []Hole
	off := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for line := 0; sc.Scan(); line++ {
		text := sc.Text()
		fields := strings.SplitN(text, " ", 4)
		switch {
		case line == 0:
			if text != "strata holes v1" {
				return bad(off, "not a holes file (first line %q)", text)
			}
		case fields[0] == "hole" && len(fields) == 4:
			start, err1 := parseHoleKey(fields[1])
			end, err2 := parseHoleKey(fields[2])
			if err1 != nil || err2 != nil {
				return bad(off, "bad key in %q", text)
			}
			holes = append(holes, Hole{Start: start, End: end, Source: fields[3]})
		case fields[0] == "end" && len(fields) == 3:
			n, err := strconv.Atoi(fields[1])
			crc, err2 := strconv.ParseUint(fields[2], 16, 32)
			if err != nil || err2 != nil || n != len(holes) {
				return bad(off, "bad end line %q (%d holes read)", text, len(holes))
			}
			if got := crc32.Checksum(data[:off], crc32.MakeTable(crc32.Castagnoli)); uint32(crc) != got {
				return bad(off, "checksum %08x does not match the contents (%08x)", crc, got)
			}
			if off+len(text)+1 != len(data) {
				return bad(off+len(text)+1, "bytes after the end line")
			}
			return holes, nil
		default:
			return bad(off, "unexpected line %q", text)
		}
		off += len(text) + 1
	}
	return bad(len(data), "no end line (the file is cut short)")
}

func parseHoleKey(s string) ([]byte, error) {
	if s == "-" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}

func formatHoleKey(k []byte) string {
	if k == nil {
		return "-"
	}
	return hex.EncodeToString(k)
}

// writeHoles replaces dir's holes file with holes (removing it when there
// are none), atomically and durably.
func writeHoles(fs vfs.FS, dir string, holes []Hole) error {
	path := fs.PathJoin(dir, holesFileName)
	if len(holes) == 0 {
		if err := fs.Remove(path); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("strata: remove %s: %w", path, err)
		}
		return vfs.SyncDir(fs, dir)
	}
	var b strings.Builder
	b.WriteString("strata holes v1\n")
	for _, h := range holes {
		source := strings.NewReplacer("\n", " ", "\r", " ").Replace(h.Source)
		fmt.Fprintf(&b, "hole %s %s %s\n", formatHoleKey(h.Start), formatHoleKey(h.End), source)
	}
	crc := crc32.Checksum([]byte(b.String()), crc32.MakeTable(crc32.Castagnoli))
	fmt.Fprintf(&b, "end %d %08x\n", len(holes), crc)
	tmp := path + ".tmp"
	if err := writeNote(fs, tmp, b.String()); err != nil {
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		fs.Remove(tmp)
		return fmt.Errorf("strata: write %s: %w", path, err)
	}
	return vfs.SyncDir(fs, dir)
}

// ClearHoles accepts the loss Repair reported: it forgets the holes of the
// database in dirname, so reads in those ranges work again (and show what
// survived there: possibly older versions of some keys, and without the
// keys that were lost). The database must not be open.
func ClearHoles(dirname string, opts *Options) error {
	o := opts.withDefaults()
	lock, err := lockDB(o.FS, dirname, "clear holes of")
	if err != nil {
		return err
	}
	defer lock.Close()
	return writeHoles(o.FS, dirname, nil)
}

// Holes returns the key ranges whose newest data Repair could not recover
// (see Hole), as recorded when the database was opened (or last caught
// up): reads in them fail with ErrHole until ClearHoles.
func (d *DB) Holes() []Hole {
	hs := d.holes.Load()
	if hs == nil {
		return nil
	}
	return slices.Clone(hs.holes)
}

// loadHoles reads the database's holes file into d.holes.
func (d *DB) loadHoles() error {
	holes, err := readHoles(d.fs, d.dirname)
	if err != nil {
		return err
	}
	if len(holes) > 0 {
		d.logger.Warn("the database has key ranges Repair could not recover: reads in them fail until ClearHoles",
			"holes", len(holes))
	}
	d.holes.Store(newHoleSet(d.cmp.Compare, holes))
	return nil
}

// holeAt returns the error of a read of key when key is in a hole.
func (d *DB) holeAt(key []byte) error {
	hs := d.holes.Load()
	if hs == nil {
		return nil
	}
	if h := hs.overlapping(key, key, false); h != nil {
		return &HoleError{Hole: *h, Key: bytes.Clone(key)}
	}
	return nil
}
