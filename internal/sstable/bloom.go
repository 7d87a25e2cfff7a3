package sstable

import "encoding/binary"

// bloomHash is the hash LevelDB's bloom filter applies to a key.
func bloomHash(key []byte) uint32 { return leveldbHash(key, 0xbc9f1d34) }

// leveldbHash is LevelDB's Hash(data, n, seed) (util/hash.cc), a murmur-like
// hash. The trailing 1-3 bytes are added as unsigned bytes, as in LevelDB
// 1.23 (older releases sign-extended them, which matters for bytes >= 0x80).
func leveldbHash(b []byte, seed uint32) uint32 {
	const m = 0xc6a4a793
	h := seed ^ uint32(len(b))*m
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b)
		h *= m
		h ^= h >> 16
	}
	switch len(b) {
	case 3:
		h += uint32(b[2]) << 16
		fallthrough
	case 2:
		h += uint32(b[1]) << 8
		fallthrough
	case 1:
		h += uint32(b[0])
		h *= m
		h ^= h >> 24
	}
	return h
}

// bloomK is the number of probes LevelDB's bloom policy uses for
// bitsPerKey: bitsPerKey * ln 2, rounded down, clamped to [1, 30].
func bloomK(bitsPerKey int) int {
	k := int(float64(bitsPerKey) * 0.69) // 0.69 =~ ln(2), as LevelDB computes it
	return max(1, min(k, 30))
}

// appendBloomFilter appends to dst the filter of LevelDB's
// BuiltinBloomFilter2 for keys with the given bloomHash values.
//
// Filter bytes:
//
//	+------------------------------------------+---------+
//	| bit array, bits = max(64, n*bitsPerKey)  | uint8 k |
//	| rounded up to whole bytes; bit i is      |         |
//	| byte i/8, mask 1<<(i%8)                  |         |
//	+------------------------------------------+---------+
//
// Each key sets k bits by double hashing: h, h+delta, h+2*delta, ... mod
// bits, with delta = h rotated right by 17.
func appendBloomFilter(dst []byte, hashes []uint32, bitsPerKey int) []byte {
	k := bloomK(bitsPerKey)
	bits := len(hashes) * bitsPerKey
	if bits < 64 {
		bits = 64
	}
	nBytes := (bits + 7) / 8
	bits = nBytes * 8
	start := len(dst)
	dst = grow(dst, nBytes+1)
	dst = append(dst, make([]byte, nBytes)...)
	dst = append(dst, byte(k))
	array := dst[start : start+nBytes]
	for _, h := range hashes {
		delta := h>>17 | h<<15
		for range k {
			pos := h % uint32(bits)
			array[pos/8] |= 1 << (pos % 8)
			h += delta
		}
	}
	return dst
}

// bloomMayContain reports whether a filter built by appendBloomFilter may
// contain a key with hash h. Filters it cannot interpret (too short, or with
// k > 30, reserved by LevelDB for other encodings) match everything.
func bloomMayContain(filter []byte, h uint32) bool {
	if len(filter) < 2 {
		return false
	}
	k := filter[len(filter)-1]
	if k > 30 {
		return true
	}
	bits := uint32(len(filter)-1) * 8
	delta := h>>17 | h<<15
	for range k {
		pos := h % bits
		if filter[pos/8]&(1<<(pos%8)) == 0 {
			return false
		}
		h += delta
	}
	return true
}
