package strata

import (
	"fmt"

	"github.com/strata-db/strata/internal/manifest"
)

// Extensions is what a database records of its use of the two things
// Strata writes that C++ LevelDB cannot read: range deletions and merge
// operands (see ReadExtensions).
type Extensions struct {
	// Used: the database has used range deletions or merges. Its MANIFEST
	// records the comparator's name with a mark ("... (strata.v2: range
	// deletions or merge operands, which LevelDB cannot read)"), so that
	// C++ LevelDB and RocksDB refuse to open it ("... does not match
	// existing comparator ..."). A database that never used them is not
	// marked and stays LevelDB's.
	Used bool
	// Merger is the name of the merge operator the database records ("":
	// none, it never held a merge operand). Open refuses it unless
	// Options.Merger has that name; BuiltinMerger(Merger) is the operator
	// when it is a built-in one.
	Merger string
}

// ReadExtensions reads what the MANIFEST of the database in dirname records
// of range deletions and merges, without opening the database: no lock is
// taken and nothing is written, so a process may have it open. Tools use
// it to open any database without being told its merge operator:
//
//	x, err := strata.ReadExtensions(dir, nil)
//	if err != nil { ... }
//	opts := &strata.Options{Merger: strata.BuiltinMerger(x.Merger)}
//	if x.Merger != "" && opts.Merger == nil { ... not built in: the program must supply it }
//
// opts gives the file system and the comparator (nil: the defaults). A
// missing database is an error matching fs.ErrNotExist; a damaged CURRENT
// or MANIFEST one matching ErrCorruption; a MANIFEST of another comparator
// one naming both.
func ReadExtensions(dirname string, opts *Options) (Extensions, error) {
	o := opts.withDefaults()
	st, err := manifest.Replay(o.FS, dirname, manifest.ReplayOptions{Comparer: o.Comparator})
	if err != nil {
		return Extensions{}, fmt.Errorf("strata: read the MANIFEST of %s: %w", dirname, err)
	}
	return Extensions{Used: st.Extended, Merger: st.Merger}, nil
}
