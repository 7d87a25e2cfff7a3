//go:build !linux || race

package memtable

// arena is unused with heap arenas: the garbage collector frees them.
type arena struct{}

func (a *arena) release(int) {}

// allocArena returns n zeroed words for m's arena, from the Go heap.
func allocArena(m *MemTable, n int) []uint32 { return make([]uint32, n) }
