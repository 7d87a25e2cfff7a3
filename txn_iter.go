package strata

// A transaction's iterator records the span it covers as a read conflict
// range. Each positioning call (First, Last, Seek, SeekLT) starts a span
// from where it was asked to start to where it landed (or, when it ran out,
// to the iterator's bound); Next and Prev extend the current span to where
// they land. A span is added to the transaction's reads when the next one
// starts, at Close, and at Commit. An iterator that failed covers its whole
// bounds: what it skipped is unknown.

// iterTrack is a transaction iterator's current span.
type iterTrack struct {
	tx           *Txn
	idx          int  // in tx.iters
	on           bool // a span is open
	lo, hi       bound
	loBuf, hiBuf []byte
}

func (tr *iterTrack) setLo(b bound) {
	tr.loBuf = append(tr.loBuf[:0], b.key...)
	tr.lo = b.withKey(tr.loBuf)
}

func (tr *iterTrack) setHi(b bound) {
	tr.hiBuf = append(tr.hiBuf[:0], b.key...)
	tr.hi = b.withKey(tr.hiBuf)
}

// lowerBound and upperBound are the iterator's bounds as bounds (an open
// end: before every key, or past every key).
func lowerBound(it *Iterator) bound {
	if it.lower == nil {
		return bound{neg: true}
	}
	return bound{key: it.lower}
}

func upperBound(it *Iterator) bound {
	if it.upper == nil {
		return bound{inf: true}
	}
	return bound{key: it.upper}
}

// flush adds the open span to the transaction's reads.
func (tr *iterTrack) flush(it *Iterator) {
	if !tr.on {
		return
	}
	tr.on = false
	if it.Err() != nil {
		tr.lo, tr.hi = lowerBound(it), upperBound(it)
	}
	tr.tx.addRead(keyRange{tr.lo, tr.hi}, tr.tx.readVersion)
}

// start begins a span at from, for a move forward (or backward) that
// landed (ok) or ran out.
func (tr *iterTrack) start(it *Iterator, from bound, forward, ok bool) {
	tr.flush(it)
	tr.on = true
	switch {
	case forward && ok:
		tr.setLo(from)
		tr.setHi(bound{key: it.Key(), after: true})
	case forward:
		tr.setLo(from)
		tr.setHi(upperBound(it))
	case ok:
		tr.setHi(from)
		tr.setLo(bound{key: it.Key()})
	default:
		tr.setHi(from)
		tr.setLo(lowerBound(it))
	}
}

// step extends the span by a Next (forward) or Prev.
func (tr *iterTrack) step(it *Iterator, forward, ok bool) {
	if !tr.on {
		return
	}
	cmp := it.db.cmp
	switch {
	case forward && ok:
		if b := (bound{key: it.Key(), after: true}); compareBounds(cmp, b, tr.hi) > 0 {
			tr.setHi(b)
		}
	case forward:
		tr.setHi(upperBound(it))
	case ok:
		if b := (bound{key: it.Key()}); compareBounds(cmp, b, tr.lo) < 0 {
			tr.setLo(b)
		}
	default:
		tr.setLo(lowerBound(it))
	}
}

// close flushes the span and forgets the iterator.
func (tr *iterTrack) close(it *Iterator) {
	tr.flush(it)
	if tr.idx < len(tr.tx.iters) && tr.tx.iters[tr.idx] == it {
		tr.tx.iters[tr.idx] = nil
	}
	it.track = nil
}

// The tracked forms of the positioning methods.

func (it *Iterator) trackedFirst() bool {
	ok := it.first()
	it.track.start(it, lowerBound(it), true, ok)
	return ok
}

func (it *Iterator) trackedLast() bool {
	ok := it.last()
	it.track.start(it, upperBound(it), false, ok)
	return ok
}

func (it *Iterator) trackedSeek(key []byte) bool {
	ok := it.seek(key)
	from := bound{key: key}
	if it.lower != nil && it.db.cmp.Compare(key, it.lower) < 0 {
		from = lowerBound(it)
	}
	it.track.start(it, from, true, ok)
	return ok
}

func (it *Iterator) trackedSeekLT(key []byte) bool {
	ok := it.seekLT(key)
	from := bound{key: key}
	if it.upper != nil && it.db.cmp.Compare(key, it.upper) > 0 {
		from = upperBound(it)
	}
	it.track.start(it, from, false, ok)
	return ok
}

func (it *Iterator) trackedNext() bool {
	was := it.Valid()
	ok := it.next()
	if was {
		it.track.step(it, true, ok)
	}
	return ok
}

func (it *Iterator) trackedPrev() bool {
	was := it.Valid()
	ok := it.prev()
	if was {
		it.track.step(it, false, ok)
	}
	return ok
}
