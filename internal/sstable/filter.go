package sstable

import (
	"encoding/binary"

	"github.com/strata-db/strata/internal/base"
)

// filterBaseLg is log2 of the data-block offset range covered by one filter:
// a new filter every 2 KiB of file (LevelDB's kFilterBaseLg).
const filterBaseLg = 11

// Filter block (LevelDB's filter_block.cc), stored uncompressed:
//
//	+----------+-----+------------+---------------+------------+-----------------+------------+
//	| filter 0 | ... | filter n-1 | offsets[0]    | ...        | fixed32 offset  | uint8      |
//	|          |     |            | fixed32 each: | offsets    | of offsets[0]   | base_lg=11 |
//	|          |     |            | filter start  | [n-1]      |                 |            |
//	+----------+-----+------------+---------------+------------+-----------------+------------+
//
// Filter i covers the keys of every data block whose offset lies in
// [i<<base_lg, (i+1)<<base_lg); its bytes run from offsets[i] to offsets[i+1]
// (the offset-array start for the last one). Ranges with no block starting in
// them get an empty filter, which matches nothing.

// filterWriter accumulates user-key hashes per filter and builds the block.
// Keeping hashes instead of keys is equivalent: a bloom filter only needs
// each key's hash.
type filterWriter struct {
	bitsPerKey int
	hashes     []uint32 // keys of the filter being built
	result     []byte   // filters so far
	offsets    []uint32 // start of each filter in result
}

// reset empties f for a new filter block, keeping its buffers.
func (f *filterWriter) reset(bitsPerKey int) {
	f.bitsPerKey = bitsPerKey
	f.hashes = f.hashes[:0]
	f.result = f.result[:0]
	f.offsets = f.offsets[:0]
}

// startBlock is called with the offset of each data block before its keys.
func (f *filterWriter) startBlock(blockOffset uint64) {
	idx := blockOffset >> filterBaseLg
	for idx > uint64(len(f.offsets)) {
		f.generate()
	}
}

func (f *filterWriter) addKey(userKey []byte) {
	f.hashes = append(f.hashes, bloomHash(userKey))
}

func (f *filterWriter) generate() {
	f.offsets = append(grow(f.offsets, 1), uint32(len(f.result)))
	if len(f.hashes) == 0 {
		return
	}
	f.result = appendBloomFilter(f.result, f.hashes, f.bitsPerKey)
	f.hashes = f.hashes[:0]
}

// finish returns the filter block contents.
func (f *filterWriter) finish() []byte {
	if len(f.hashes) > 0 {
		f.generate()
	}
	arrayOffset := uint32(len(f.result))
	f.result = grow(f.result, 4*len(f.offsets)+5)
	for _, o := range f.offsets {
		f.result = binary.LittleEndian.AppendUint32(f.result, o)
	}
	f.result = binary.LittleEndian.AppendUint32(f.result, arrayOffset)
	return append(f.result, filterBaseLg)
}

// filterReader answers "may a block at this offset contain this key".
type filterReader struct {
	data    []byte // the whole filter block
	offsets int    // start of the offset array
	num     int    // number of filters
	baseLg  uint8
}

// initFilterReader validates the filter block's framing.
func initFilterReader(data []byte, file string, off uint64) (filterReader, error) {
	n := len(data)
	if n < 5 {
		return filterReader{}, base.CorruptionErrorf(file, int64(off), "filter block too short (%d bytes)", n)
	}
	last := binary.LittleEndian.Uint32(data[n-5:])
	if uint64(last) > uint64(n-5) {
		return filterReader{}, base.CorruptionErrorf(file, int64(off)+int64(n-5), "bad filter offset array start %d", last)
	}
	baseLg := data[n-1]
	if baseLg >= 64 {
		return filterReader{}, base.CorruptionErrorf(file, int64(off)+int64(n-1), "bad filter base_lg %d", baseLg)
	}
	return filterReader{data: data, offsets: int(last), num: (n - 5 - int(last)) / 4, baseLg: baseLg}, nil
}

// mayContain reports whether the data block at blockOffset may hold a key
// with bloom hash h. As in LevelDB, malformed filters match everything.
func (f *filterReader) mayContain(blockOffset uint64, h uint32) bool {
	idx := blockOffset >> f.baseLg
	if idx >= uint64(f.num) {
		return true
	}
	i := f.offsets + int(idx)*4
	start := binary.LittleEndian.Uint32(f.data[i:])
	limit := binary.LittleEndian.Uint32(f.data[i+4:])
	if start <= limit && uint64(limit) <= uint64(f.offsets) {
		return bloomMayContain(f.data[start:limit], h)
	}
	return start != limit // an empty filter matches nothing
}
