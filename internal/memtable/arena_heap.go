//go:build !linux || race

package memtable

// allocArena returns n zeroed words for m's arena, from the Go heap.
func allocArena(m *MemTable, n int) []uint32 { return make([]uint32, n) }
