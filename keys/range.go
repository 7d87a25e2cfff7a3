package keys

// PrefixEnd returns the smallest byte string greater than every byte string
// that starts with prefix: prefix with its trailing 0xFF bytes removed and
// its last remaining byte incremented. It returns nil, meaning no upper
// bound, when prefix is empty or all 0xFF. The result is newly allocated;
// prefix is not modified. It is the engine's strata.PrefixUpperBound (this
// package imports nothing of the module, so it keeps its own copy), and
// PrefixRange(p) is the range an iterator with IterOptions.Prefix p walks.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return nil
}

// PrefixRange returns the key range [lower, upper) of the byte strings that
// start with prefix, the encoding of a tuple p. Because every element is
// self-delimiting, the tuple encodings in that range are exactly those of
// p itself and of the tuples that extend p with more elements, whatever
// their types (an extension's first byte can be anything from 0x00, null,
// to 0xFF, Desc{nil}).
//
// So the range includes p's own encoding: lower is a copy of prefix. Unlike
// FoundationDB's range(prefix), which is [prefix+0x00, prefix+0xFF), upper
// is PrefixEnd(prefix), nil (no upper bound) when prefix is empty or all
// 0xFF. To leave out p itself, start at prefix+0x00 instead: no extension
// sorts below it. Both results are newly allocated and owned by the caller.
func PrefixRange(prefix []byte) (lower, upper []byte) {
	lower = append([]byte{}, prefix...)
	return lower, PrefixEnd(prefix)
}
