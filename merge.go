package strata

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrNoMerger is returned by a merge, or a read that meets merge operands,
// in a database opened without Options.Merger.
var ErrNoMerger = errors.New("strata: merge needs Options.Merger")

// Merger is a merge operator (RocksDB's MergeOperator): DB.Merge records an
// operand for a key instead of a value, and reads fold the operands into
// the value they mean, so that read-modify-write (a counter, a maximum, an
// append) costs one blind write. Compactions fold operands too, partially
// while older data may lie deeper, fully at the bottom.
//
// The functions must be deterministic and safe for concurrent use, and
// must not keep or modify their arguments; what they return may alias them
// (the engine copies it).
type Merger struct {
	// Name identifies the operator. It is recorded in the database at the
	// first merge, and opening the database with an operator of another
	// name, or none, is then refused: operands mean nothing without it.
	Name string
	// FullMerge returns the value of key given the value under its
	// operands (existing; hasExisting is false when there is none: the key
	// was never set, or deleted, by Delete or DeleteRange) and the operands,
	// oldest first. An error fails the read, or the compaction, that needed
	// the value.
	FullMerge func(key, existing []byte, hasExisting bool, operands [][]byte) ([]byte, error)
	// PartialMerge, if not nil, combines consecutive operands (oldest
	// first) into one operand that FullMerge treats as it would them all,
	// or reports false when they do not combine. Compactions use it so that
	// a key's operands do not pile up while its base value lies deeper.
	PartialMerge func(key []byte, operands [][]byte) ([]byte, bool)
}

// The built-in operators follow FoundationDB's atomic operations on
// little-endian byte strings: the value under an operand is first cut or
// zero-padded to the operand's length. A missing value reads as zero for
// add and max, and as the operand itself for min.
var (
	// AddMerger adds little-endian integers (FoundationDB's add): for
	// 8-byte operands, uint64 addition with wrap-around (two's complement
	// makes it signed addition too). The result has the operand's length.
	AddMerger = &Merger{Name: "strata.add", FullMerge: addFull, PartialMerge: addPartial}
	// MaxMerger keeps the largest of the value and the operands, compared
	// as unsigned little-endian integers (FoundationDB's max).
	MaxMerger = &Merger{Name: "strata.max", FullMerge: extremeFull(1), PartialMerge: extremePartial(1)}
	// MinMerger keeps the smallest of the value and the operands, compared
	// as unsigned little-endian integers (FoundationDB's min).
	MinMerger = &Merger{Name: "strata.min", FullMerge: extremeFull(-1), PartialMerge: extremePartial(-1)}
)

// AppendMerger returns an operator that appends each operand to the value,
// with sep between consecutive pieces (none before the first piece of a
// key with no value). Its name records sep, so a database written with one
// separator cannot be reopened with another.
func AppendMerger(sep []byte) *Merger {
	sep = bytes.Clone(sep)
	join := func(parts [][]byte) []byte {
		n := len(sep) * max(len(parts)-1, 0)
		for _, p := range parts {
			n += len(p)
		}
		out := make([]byte, 0, n)
		for i, p := range parts {
			if i > 0 {
				out = append(out, sep...)
			}
			out = append(out, p...)
		}
		return out
	}
	return &Merger{
		Name: appendMergerPrefix + hex.EncodeToString(sep),
		FullMerge: func(_, existing []byte, has bool, ops [][]byte) ([]byte, error) {
			if has {
				return join(append([][]byte{existing}, ops...)), nil
			}
			return join(ops), nil
		},
		PartialMerge: func(_ []byte, ops [][]byte) ([]byte, bool) { return join(ops), true },
	}
}

const appendMergerPrefix = "strata.append:"

// BuiltinMerger returns the built-in operator called name (as Merger.Name
// and the database record it), or nil. Tools use it to open a database
// whose recorded operator is a built-in one.
func BuiltinMerger(name string) *Merger {
	switch name {
	case AddMerger.Name:
		return AddMerger
	case MaxMerger.Name:
		return MaxMerger
	case MinMerger.Name:
		return MinMerger
	}
	if h, ok := strings.CutPrefix(name, appendMergerPrefix); ok {
		if sep, err := hex.DecodeString(h); err == nil {
			return AppendMerger(sep)
		}
	}
	return nil
}

// fit returns v cut or zero-padded to n bytes (a little-endian integer
// of n bytes), in a new slice.
func fit(v []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, v)
	return out
}

// addInto adds the little-endian integer b to a (same length), in place,
// dropping the carry out of the top byte.
func addInto(a, b []byte) {
	carry := 0
	for i := range a {
		s := int(a[i]) + int(b[i]) + carry
		a[i], carry = byte(s), s>>8
	}
}

func addFull(_, existing []byte, _ bool, ops [][]byte) ([]byte, error) {
	acc := existing // nil (missing) reads as zero
	for _, op := range ops {
		acc = fit(acc, len(op))
		addInto(acc, op)
	}
	return acc, nil
}

// addPartial combines adds while no operand is longer than the one after
// it: x cut to n bytes, plus a, cut to m <= n bytes, plus b, is x cut to m
// bytes plus (a cut to m bytes + b). A longer operand after a shorter one
// would keep bytes of x the shorter one dropped, so those do not combine.
func addPartial(_ []byte, ops [][]byte) ([]byte, bool) {
	for i := 1; i < len(ops); i++ {
		if len(ops[i]) > len(ops[i-1]) {
			return nil, false
		}
	}
	acc := fit(ops[0], len(ops[0]))
	for _, op := range ops[1:] {
		acc = fit(acc, len(op))
		addInto(acc, op)
	}
	return acc, true
}

// compareLE compares little-endian unsigned integers of the same length.
func compareLE(a, b []byte) int {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// extremeFull is max (sign 1) or min (sign -1). A missing value is zero for
// max, and gives way to the operand for min (FoundationDB's rule).
func extremeFull(sign int) func(_, existing []byte, has bool, ops [][]byte) ([]byte, error) {
	return func(_, existing []byte, has bool, ops [][]byte) ([]byte, error) {
		acc, ok := existing, has || sign > 0
		for _, op := range ops {
			if !ok {
				acc, ok = op, true
				continue
			}
			cur := fit(acc, len(op))
			if compareLE(op, cur)*sign > 0 {
				acc = op
			} else {
				acc = cur
			}
		}
		return bytes.Clone(acc), nil
	}
}

// extremePartial combines max or min operands of one length (which then
// behave as their extreme would); operands of different lengths cut or pad
// the value differently, so they do not combine.
func extremePartial(sign int) func(_ []byte, ops [][]byte) ([]byte, bool) {
	return func(_ []byte, ops [][]byte) ([]byte, bool) {
		acc := ops[0]
		for _, op := range ops[1:] {
			if len(op) != len(acc) {
				return nil, false
			}
			if compareLE(op, acc)*sign > 0 {
				acc = op
			}
		}
		return bytes.Clone(acc), true
	}
}
