package sstable

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestCompressRoundTrip(t *testing.T) {
	raw := bytes.Repeat([]byte("strata block contents "), 200)
	for _, c := range []Compression{SnappyCompression, ZstdCompression} {
		out, ok := compressBlock(nil, raw, c)
		if !ok || len(out) >= len(raw)/2 {
			t.Fatalf("%s: compressed %d bytes to %d (ok=%v)", c, len(raw), len(out), ok)
		}
		got, err := decompressBlock(out, c)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("%s: round trip failed: %v", c, err)
		}
		if c == ZstdCompression {
			// LevelDB's zstd reader sizes its output with
			// ZSTD_getFrameContentSize: the frame must carry it.
			var h zstd.Header
			if err := h.Decode(out); err != nil || !h.HasFCS || h.FrameContentSize != uint64(len(raw)) {
				t.Fatalf("zstd frame header %+v, %v: want the content size", h, err)
			}
		}
	}
	if _, ok := compressBlock(nil, raw, Compression(9)); ok {
		t.Fatal("unknown codec compressed")
	}
}

func TestDecompressErrors(t *testing.T) {
	var de *decompressError
	for _, tc := range []struct {
		c    Compression
		data []byte
	}{
		{SnappyCompression, []byte{0xff, 0xff, 0xff, 0xff, 0x7f}},  // 4 GiB claimed from 5 bytes
		{SnappyCompression, []byte{0x0a, 0x00}},                    // literal runs past the end
		{ZstdCompression, []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0}}, // truncated frame
		{Compression(7), []byte{1, 2, 3}},
	} {
		if _, err := decompressBlock(tc.data, tc.c); !errors.As(err, &de) {
			t.Errorf("%s %x: got %v, want a decompress error", tc.c, tc.data, err)
		}
	}
}
