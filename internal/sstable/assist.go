package sstable

import (
	"runtime"
	"sync/atomic"
)

// assistSlots is how many finished data blocks a Writer keeps waiting for
// compression before it compresses the oldest itself: 16 blocks of 4 KiB,
// enough that a helper arriving every few microseconds finds work, small
// enough to stay in the cache until the Writer writes them.
const assistSlots = 16

// Assist lets other goroutines compress a Writer's data blocks while the
// Writer goes on building the next ones, the way a garbage collector's
// mutator assists share its work. A database attaches one to the Writer of
// a memtable flush (SetAssist) and has its foreground writers call Help
// after each write while the flush runs. The flush's goroutine is spared
// the compression, and the writers, who spend the time compressing, fill
// the next memtable more slowly while the flushed one is still in memory:
// on two cores, with a writer keeping one busy, that lowered a fill's peak
// memory by 4-8 MiB for a few percent of its write rate. (The flush itself
// got no shorter there: blocks compressed on the other core cost the
// flush's goroutine as much again in cache misses when it writes them.)
//
// The Writer stays the only goroutine that orders blocks, assigns their
// offsets and writes them, builds the index and the filter: helpers only
// compress. The table written is byte for byte the one a Writer without an
// Assist writes. Each block is compressed exactly once: by a helper, which
// takes the newest waiting block (the one the Writer needs last), or by the
// Writer, which compresses the oldest itself when it must write it and no
// helper has taken it.
//
// An Assist serves one Writer at a time; Help may be called from any number
// of goroutines at any time, also when no Writer uses the Assist.
type Assist struct {
	slots    [assistSlots]assistSlot
	produced atomic.Uint64 // blocks published by the Writer
	waiting  atomic.Int64  // published blocks nobody has claimed yet
	helped   atomic.Uint64 // blocks compressed by Help

	// emitted counts the blocks written, touched only by the Writer using
	// the Assist (the only one that stores produced, too); slot
	// produced%assistSlots is free when produced-emitted < assistSlots.
	emitted uint64

	// sleepers counts goroutines in HelpWhile waiting for blocks; the
	// Writer then sends on wake once wakeBatch blocks are waiting.
	sleepers atomic.Int32
	wake     chan struct{} // capacity 1
}

// wakeBatch is how many blocks must be waiting before the Writer wakes a
// sleeping HelpWhile: a wake costs the Writer's goroutine a few
// microseconds (the sleeper's thread is woken by a system call), about as
// much as compressing a block, so the sleeper is woken for a batch.
const wakeBatch = 4

// Slot states. A slot goes free → published (by the Writer) → claimed (by
// a helper or the Writer) → compressed (by the claimer) → free (by the
// Writer, once it has written the block).
const (
	slotFree int32 = iota
	slotPublished
	slotClaimed
	slotCompressed
)

// assistSlot holds one published block. raw, c and compress are written by
// the Writer before it publishes the block, out and ok by its claimer
// before it marks it compressed; hashes and sep belong to the Writer.
type assistSlot struct {
	state    atomic.Int32
	raw      []byte
	c        Compression
	compress func(dst, raw []byte, c Compression) ([]byte, bool)
	out      []byte
	ok       bool

	hashes []uint32 // filter hashes of the block's user keys
	sep    []byte   // the block's index key, once the next key (or Close) fixes it
}

// NewAssist returns an empty Assist.
func NewAssist() *Assist { return &Assist{wake: make(chan struct{}, 1)} }

// Help compresses up to max waiting blocks, newest first, and returns how
// many it compressed (0 when none is waiting).
func (a *Assist) Help(max int) int {
	if a.waiting.Load() == 0 {
		return 0 // the common case between flushes' blocks: one shared load
	}
	done := 0
	p := a.produced.Load()
	for n := p; n > 0 && p-n < assistSlots && done < max; {
		n--
		// The slot may hold a newer block than n by now: whichever it
		// holds when the claim succeeds is the one compressed.
		s := &a.slots[n%assistSlots]
		if s.state.Load() == slotPublished && s.state.CompareAndSwap(slotPublished, slotClaimed) {
			a.waiting.Add(-1)
			s.compressBlock()
			done++
		}
	}
	if done > 0 {
		a.helped.Add(uint64(done))
	}
	return done
}

// HelpWhile compresses waiting blocks, as Help does, for as long as cont
// returns true; when none is waiting it sleeps until the Writer has
// published a few (wakeBatch) or Wake is called, then checks cont again.
// It is for a goroutine that would otherwise wait for the Writer to finish
// (a database's writer stalled until a flush ends): the wait is spent on
// the Writer's work, so it ends sooner. Call Wake after whatever makes cont
// false, so that a sleeping HelpWhile returns.
func (a *Assist) HelpWhile(cont func() bool) {
	for cont() {
		if a.Help(assistSlots) > 0 {
			continue
		}
		a.sleepers.Add(1)
		// Published blocks are counted in waiting before the Writer
		// checks sleepers, so a block published after this load wakes us.
		if a.waiting.Load() == 0 && cont() {
			<-a.wake
		}
		a.sleepers.Add(-1)
	}
}

// Wake wakes a goroutine sleeping in HelpWhile, so that it checks its
// condition again. (A wake with nobody asleep is kept for the next one,
// who then checks once more for nothing.)
func (a *Assist) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Helped returns how many blocks Help has compressed since the Assist was
// made.
func (a *Assist) Helped() uint64 { return a.helped.Load() }

// compressBlock compresses the claimed slot's block.
func (s *assistSlot) compressBlock() {
	s.out, s.ok = s.compress(s.out, s.raw, s.c)
	s.state.Store(slotCompressed)
}

// waitCompressed makes sure block n (published, not yet written) is
// compressed: by the caller if nobody has claimed it, else by waiting for
// the helper that did (it is a few microseconds into one block).
func (a *Assist) waitCompressed(n uint64) *assistSlot {
	s := &a.slots[n%assistSlots]
	if s.state.CompareAndSwap(slotPublished, slotClaimed) {
		a.waiting.Add(-1)
		s.compressBlock()
		return s
	}
	for s.state.Load() != slotCompressed {
		runtime.Gosched()
	}
	return s
}

// drain waits out the blocks a previous Writer published and did not write
// (it stopped at an error before Close), so their slots can be reused.
func (a *Assist) drain() {
	for ; a.emitted < a.produced.Load(); a.emitted++ {
		a.waitCompressed(a.emitted).state.Store(slotFree)
	}
}

// SetAssist makes w's data blocks go through a (see Assist); nil restores
// the default, where w compresses each block as it finishes it. Call it
// after NewWriter or Reset, before the first Add; Reset detaches the
// Assist. Tables without compression ignore it.
func (w *Writer) SetAssist(a *Assist) {
	if w.opts.Compression == NoCompression || w.numEntries > 0 {
		return
	}
	if a != nil {
		a.drain()
	}
	w.assist = a
}

// publishBlock hands the finished data block to the Assist and writes the
// blocks that are ready (compressed, with their index key known).
func (w *Writer) publishBlock() {
	a := w.assist
	n := a.produced.Load()
	for n-a.emitted >= assistSlots {
		w.emitBlock()
	}
	raw := w.data.finish()
	s := &a.slots[n%assistSlots]
	s.raw, w.data.buf = raw, s.raw[:0]
	s.c, s.compress = w.opts.Compression, w.compress
	s.hashes, w.blockHashes = w.blockHashes, s.hashes[:0]
	waiting := a.waiting.Add(1) // before the block can be claimed, so it never goes below 0
	s.state.Store(slotPublished)
	a.produced.Store(n + 1)
	if waiting >= wakeBatch && a.sleepers.Load() > 0 {
		a.Wake()
	}
	w.queued += uint64(len(raw))
	w.data.reset()
	w.sepPending = true
	for a.emitted < n && a.slots[a.emitted%assistSlots].state.Load() == slotCompressed {
		w.emitBlock()
	}
}

// pendingSlot returns the last published block's slot, whose index key
// the caller is about to set.
func (w *Writer) pendingSlot() *assistSlot {
	w.sepPending = false
	return &w.assist.slots[(w.assist.produced.Load()-1)%assistSlots]
}

// emitBlock writes the oldest published block: its filter keys, the block
// and trailer, its index entry, as flushDataBlock does for a Writer without
// an Assist.
func (w *Writer) emitBlock() {
	a := w.assist
	s := a.waitCompressed(a.emitted)
	contents, typ := storedForm(s.raw, s.out, s.ok, s.c)
	if w.filter != nil {
		w.filter.hashes = append(w.filter.hashes, s.hashes...)
	}
	h := w.writeRawBlock(contents, typ)
	n := len(s.sep)
	enc := appendBlockHandle(s.sep, h)
	w.index.add(enc[:n], enc[n:])
	s.sep = enc[:0]
	if w.filter != nil {
		w.filter.startBlock(w.offset)
	}
	w.queued -= uint64(len(s.raw))
	s.state.Store(slotFree)
	a.emitted++
}
