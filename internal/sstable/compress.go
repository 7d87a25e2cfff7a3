package sstable

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// maxZstdDecodedSize bounds the memory a zstd block may claim when decoded,
// so a damaged (unverified) block cannot make the reader allocate wildly.
const maxZstdDecodedSize = 1 << 30

// The zstd encoder and decoder are expensive to create and safe for
// concurrent EncodeAll/DecodeAll, so one of each serves the process.
var (
	zstdOnce    sync.Once
	zstdEncoder *zstd.Encoder
	zstdDecoder *zstd.Decoder
	zstdInitErr error
)

func initZstd() {
	zstdEncoder, zstdInitErr = zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest), // zstd level 1, LevelDB's default
		zstd.WithEncoderCRC(false),
		zstd.WithLowerEncoderMem(true))
	if zstdInitErr != nil {
		return
	}
	zstdDecoder, zstdInitErr = zstd.NewReader(nil,
		zstd.WithDecoderMaxMemory(maxZstdDecodedSize),
		zstd.WithDecoderConcurrency(0))
}

// compressBlock appends raw compressed with c to dst[:0] and returns it, or
// ok=false when the codec is unknown or failed.
func compressBlock(dst, raw []byte, c Compression) (out []byte, ok bool) {
	switch c {
	case SnappyCompression:
		n := s2.MaxEncodedLen(len(raw))
		if n < 0 {
			return dst, false
		}
		if cap(dst) < n {
			dst = make([]byte, n)
		}
		return s2.EncodeSnappy(dst[:n], raw), true
	case ZstdCompression:
		zstdOnce.Do(initZstd)
		if zstdInitErr != nil {
			return dst, false
		}
		return zstdEncoder.EncodeAll(raw, dst[:0]), true
	}
	return dst, false
}

// decompressError is returned by decompressBlock for undecodable input;
// callers turn it into a corruption error with the block's offset.
type decompressError struct{ msg string }

func (e *decompressError) Error() string { return e.msg }

// decompressBlock returns the decoded contents of a block compressed with c
// in a newly allocated slice.
// snappyDecodedLen returns the length a snappy block decodes to, checking
// it is plausible.
func snappyDecodedLen(src []byte) (int, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return 0, &decompressError{"corrupted snappy block: " + err.Error()}
	}
	// A snappy copy element expands at most 64 bytes out of 2; anything
	// claiming more is damaged (and would be an allocation bomb).
	if n > 32*len(src)+64 {
		return 0, &decompressError{"corrupted snappy block: implausible length"}
	}
	return n, nil
}

func decompressBlock(src []byte, c Compression) ([]byte, error) {
	return decompressBlockInto(nil, src, c)
}

// decompressBlockInto is decompressBlock writing into dst's storage when it
// is large enough (a fresh slice otherwise).
func decompressBlockInto(dst, src []byte, c Compression) ([]byte, error) {
	switch c {
	case SnappyCompression:
		n, err := snappyDecodedLen(src)
		if err != nil {
			return nil, err
		}
		if cap(dst) < n {
			dst = make([]byte, n)
		}
		out, err := s2.Decode(dst[:n], src)
		if err != nil {
			return nil, &decompressError{"corrupted snappy block: " + err.Error()}
		}
		return out, nil
	case ZstdCompression:
		zstdOnce.Do(initZstd)
		if zstdInitErr != nil {
			return nil, zstdInitErr
		}
		out, err := zstdDecoder.DecodeAll(src, dst[:0])
		if err != nil {
			return nil, &decompressError{"corrupted zstd block: " + err.Error()}
		}
		return out, nil
	}
	return nil, &decompressError{fmt.Sprintf("bad block type %d", uint8(c))}
}
