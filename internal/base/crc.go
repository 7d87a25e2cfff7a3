package base

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC returns the crc32c (Castagnoli) checksum of b.
func CRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// CRCUpdate extends crc with b.
func CRCUpdate(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

const crcMaskDelta = 0xa282ead8

// MaskCRC returns the masked form LevelDB stores on disk:
// ((c >> 15) | (c << 17)) + 0xa282ead8. Masking keeps a CRC of data that
// itself embeds CRCs from being trivially related to it.
func MaskCRC(c uint32) uint32 { return ((c >> 15) | (c << 17)) + crcMaskDelta }

// UnmaskCRC inverts MaskCRC.
func UnmaskCRC(m uint32) uint32 {
	r := m - crcMaskDelta
	return (r >> 17) | (r << 15)
}
