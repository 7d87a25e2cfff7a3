package vfs

// memChunkSize is the size of every chunk of a memData but the last.
const memChunkSize = 64 << 10

// memData is the contents of a MemFS file: a byte string stored in chunks so
// that appending never copies what is already written. Chunk i holds bytes
// [i*memChunkSize, (i+1)*memChunkSize); every chunk but the last is full.
//
// Bytes below size are never written again. That lets a crash clone (and
// the durable snapshot a Sync takes) share chunks with the live file: the
// sharer slices each chunk with cap == len, so its own appends copy the
// last chunk instead of writing into the shared array, while the live file
// only ever writes above the sharer's length.
//
// A memData is guarded by the lock of the memNode that holds it.
type memData struct {
	chunks [][]byte
	size   int64
}

// appendBytes appends p.
func (d *memData) appendBytes(p []byte) {
	for len(p) > 0 {
		last := len(d.chunks) - 1
		if last < 0 || len(d.chunks[last]) == memChunkSize {
			c := memChunkSize
			if last < 0 {
				c = min(max(len(p), 512), memChunkSize) // small files stay small
			}
			d.chunks = append(d.chunks, make([]byte, 0, c))
			last++
		}
		chunk := d.chunks[last]
		n := min(memChunkSize-len(chunk), len(p))
		if cap(chunk)-len(chunk) < n {
			grown := make([]byte, len(chunk), min(max(2*cap(chunk), len(chunk)+n), memChunkSize))
			copy(grown, chunk)
			chunk = grown
		}
		d.chunks[last] = append(chunk, p[:n]...)
		d.size += int64(n)
		p = p[n:]
	}
}

// readAt copies bytes from off into p and returns how many; fewer than
// len(p) means the end was reached. off must be in [0, size].
func (d *memData) readAt(p []byte, off int64) int {
	n := 0
	for n < len(p) && off < d.size {
		chunk := d.chunks[off/memChunkSize]
		m := copy(p[n:], chunk[off%memChunkSize:])
		n += m
		off += int64(m)
	}
	return n
}

// prefix returns a new memData sharing d's first size bytes (see memData).
func (d *memData) prefix(size int64) *memData {
	c := &memData{size: size, chunks: make([][]byte, 0, (size+memChunkSize-1)/memChunkSize)}
	for i := int64(0); i*memChunkSize < size; i++ {
		l := min(memChunkSize, size-i*memChunkSize)
		c.chunks = append(c.chunks, d.chunks[i][:l:l])
	}
	return c
}
