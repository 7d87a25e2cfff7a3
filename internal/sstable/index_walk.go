package sstable

// ForEachIndexEntry calls fn for each data block of the table, in order,
// with the block's index key (an internal key >= every key in the block and
// < every key of the next block) and the block's size on disk including its
// trailer. It reads only the index block, which the Reader holds in memory.
// Used to divide key ranges into parts of roughly equal bytes.
func (r *Reader) ForEachIndexEntry(fn func(indexKey []byte, blockBytes uint64)) error {
	if r.closed {
		return errClosedReader
	}
	var ii blockIter
	if err := ii.init(r.cmp, r.index, r.file, r.footer.index.Offset); err != nil {
		return err
	}
	for ok := ii.First(); ok; ok = ii.Next() {
		h, err := r.decodeIndexValue(&ii)
		if err != nil {
			return err
		}
		fn(ii.key, h.Size+blockTrailerLen)
	}
	return ii.err
}
