package base

// InternalIterator walks entries ordered by internal key. Memtables, blocks,
// tables, levels and the merging iterator all implement it, so they stack.
//
// Positioning methods return whether the iterator is now at an entry (the
// same answer Valid gives afterwards). Key and Value may only be called while
// Valid; the slices they return are owned by the iterator and stay valid only
// until the next positioning call or Close. An iterator that hits an error
// becomes invalid and reports the error from Error; it is not repositioned
// silently past bad data.
//
// An InternalIterator is not safe for concurrent use.
type InternalIterator interface {
	// SeekGE moves to the first entry whose internal key is >= key.
	SeekGE(key []byte) bool
	// SeekLT moves to the last entry whose internal key is < key.
	SeekLT(key []byte) bool
	// First moves to the first entry.
	First() bool
	// Last moves to the last entry.
	Last() bool
	// Next moves forward one entry. It must only be called while Valid.
	Next() bool
	// Prev moves back one entry. It must only be called while Valid.
	Prev() bool
	// Valid reports whether the iterator is at an entry.
	Valid() bool
	// Key returns the current encoded internal key.
	Key() []byte
	// Value returns the current value.
	Value() []byte
	// Error returns the first error met, if any.
	Error() error
	// Close releases resources and returns Error (or a close error).
	Close() error
}
