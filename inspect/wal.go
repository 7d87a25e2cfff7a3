package inspect

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-db/strata/internal/base"
	"github.com/strata-db/strata/internal/batch"
	"github.com/strata-db/strata/internal/record"
)

// Op is one operation of a write batch: Kind "SET" (Key = Value), "DEL"
// (Key; Value nil), "MERGE" (a merge operand Value for Key) or "RANGEDEL"
// (a range deletion of [Key, Value): the record's key is the range's
// start, its value the end).
type Op struct {
	Kind  string
	Key   []byte
	Value []byte
}

// Batch is one decoded write-ahead-log record: an atomic write batch whose
// i-th operation has sequence number Seq+i.
type Batch struct {
	// Offset is the file offset of the record's first chunk.
	Offset int64
	Seq    uint64
	Count  uint32
	Ops    []Op
}

// IsHeader reports whether b is a log's header record: the first record,
// a batch of no operations, which Strata writes when it starts a log (its
// sequence minus one is the last sequence the logs before it reached).
// LevelDB's logs have none, though one may start with an empty batch a
// user wrote, which means the same.
func (b *Batch) IsHeader() bool { return b.Offset == 0 && b.Count == 0 && b.Seq > 0 }

// WriteText writes the batch for people: a header line, then (with ops)
// one line per operation, with its sequence number: SEQ SET KEY = VALUE,
// SEQ DEL KEY, SEQ MERGE KEY <- OPERAND, SEQ RANGEDEL [START, END).
func (b *Batch) WriteText(w io.Writer, kf KeyFormat, ops bool) error {
	kf = kf.orDefault()
	var s strings.Builder
	fmt.Fprintf(&s, "batch at offset %d: seq %d, %d ops", b.Offset, b.Seq, b.Count)
	if b.IsHeader() {
		fmt.Fprintf(&s, " (log header: the logs before reached seq %d)", b.Seq-1)
	}
	s.WriteByte('\n')
	if ops {
		for i, op := range b.Ops {
			seq := b.Seq + uint64(i)
			switch op.Kind {
			case base.KindDelete.String():
				fmt.Fprintf(&s, "  %d DEL %s\n", seq, kf(op.Key))
			case base.KindMerge.String():
				fmt.Fprintf(&s, "  %d MERGE %s <- %s\n", seq, kf(op.Key), kf(op.Value))
			case base.KindRangeDelete.String():
				fmt.Fprintf(&s, "  %d RANGEDEL [%s, %s)\n", seq, kf(op.Key), kf(op.Value))
			default:
				fmt.Fprintf(&s, "  %d SET %s = %s\n", seq, kf(op.Key), kf(op.Value))
			}
		}
	}
	_, err := io.WriteString(w, s.String())
	return err
}

// ReadWAL decodes every record of the write-ahead log at path as a batch
// and calls fn with each, in order. Damage does not stop it: a damaged
// record, a record that is not a well-formed batch, a batch whose sequence
// numbers go backwards, and a torn end (unless it is zeros only) each
// become a Finding, and reading goes on after it. The error is for failing to read the file, or one
// returned by fn. The batch's slices are valid only during the call.
func ReadWAL(path string, fn func(*Batch) error) ([]Finding, error) {
	name := filepath.Base(path)
	var b Batch
	var nextSeq uint64 // smallest sequence number the next batch may have
	// A tail of zeros is space the mapped appender reserved ahead of the
	// writes (vfs.NewAppender): the log is open, or the machine stopped
	// before it was closed. LevelDB's reader takes it as padding too.
	return readLog(path, "log ends with %d unreadable bytes (a write cut short by a crash, or damage)", true,
		func(rec []byte, off int64) (*Finding, error) {
			if err := decodeBatch(&b, rec, off); err != nil {
				return &Finding{File: name, Offset: off, Msg: err.Error()}, nil
			}
			var bad *Finding
			if b.Count > 0 && b.Seq+uint64(b.Count)-1 > base.MaxSeq {
				return &Finding{File: name, Offset: off,
					Msg: fmt.Sprintf("batch of %d operations at sequence %d runs past the largest sequence number %d", b.Count, b.Seq, base.MaxSeq)}, fn(&b)
			}
			if b.Count > 0 && b.Seq < nextSeq {
				bad = &Finding{File: name, Offset: off,
					Msg: fmt.Sprintf("batch sequence %d goes backwards (the previous batch ended at %d)", b.Seq, nextSeq-1)}
			}
			if end := b.Seq + uint64(b.Count); end > nextSeq {
				nextSeq = end
			}
			return bad, fn(&b)
		})
}

// logDataSize returns how many bytes of the log at path, of length size,
// are records: size less a tail of zeros after the last record (space a
// writer reserved ahead of its writes). A log that vanished meanwhile (the
// writer deleted it) holds none.
func logDataSize(path string, size int64) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := record.NewReader(f, filepath.Base(path))
	if err := r.Each(func(error) error { return nil }, func([]byte, int64) error { return nil }); err != nil {
		return 0, err
	}
	if off, n, torn := r.TornTail(); torn {
		if zeros, err := allZeros(f, off, n); err != nil || zeros {
			return off, err
		}
	}
	return size, nil
}

func decodeBatch(b *Batch, rec []byte, off int64) error {
	br, err := batch.NewReader(rec)
	if err != nil {
		return fmt.Errorf("record is not a write batch: %v", err)
	}
	*b = Batch{Offset: off, Seq: batch.Seq(rec), Count: batch.Count(rec), Ops: b.Ops[:0]}
	for {
		kind, key, value, ok, err := br.Next()
		if err != nil {
			return fmt.Errorf("batch with seq %d: %v", b.Seq, err)
		}
		if !ok {
			break
		}
		op := Op{Kind: kind.String(), Key: key}
		if kind != base.KindDelete {
			op.Value = value
		}
		b.Ops = append(b.Ops, op)
	}
	if len(b.Ops) != int(b.Count) {
		return fmt.Errorf("batch with seq %d: header says %d ops, holds %d", b.Seq, b.Count, len(b.Ops))
	}
	return nil
}
