// Package dataio reads and writes key-value data as text: the tsv, csv and
// jsonl formats of `strata load` and `strata export`, and the output of
// `strata scan`. It also holds the library side of those commands: Prepare
// and LoadInto (an all-or-nothing bulk load) and Dump (a range of the
// database to a writer), so a program can do what the command does.
//
// Every format has one entry per line (csv: per record) and two encodings
// of keys and values: the text form (see Escape; base64 for jsonl) or hex
// (lowercase on output, either case on input).
//
//	format  one entry                                  keys only
//	------  -----------------------------------------  ---------------
//	tsv     KEY<TAB>VALUE<LF>                          KEY<LF>
//	csv     KEY,VALUE<CRLF> (RFC 4180 quoting)         KEY<CRLF>
//	jsonl   {"key":"K","value":"V"}<LF>                {"key":"K"}<LF>
//
// In jsonl, K and V are base64 (standard alphabet, padded) by default and
// hex with Hex set: a JSON string cannot hold arbitrary bytes. On input a
// trailing CR before LF is ignored in tsv and jsonl (files written on
// Windows); in those formats blank lines are errors, as is anything that
// would make an entry ambiguous: there is no silent skipping. (csv follows
// encoding/csv, which skips blank lines; the text form of a value never
// holds a raw CR or LF, so quoted fields do not change under its CRLF
// normalization.) A UTF-8 byte order mark at the start of the input is
// skipped in every format.
//
// Input written by other programs — tables with more columns, a header
// row, JSON objects with fields of their own names — is read with a
// Selection (NewReaderSelect, LoadOptions.Select), which picks the key and
// the value out of each record and takes fields as they are.
package dataio

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Format is a file format for key-value entries.
type Format int

const (
	// TSV is one KEY<TAB>VALUE line per entry.
	TSV Format = iota
	// CSV is one two-field RFC 4180 record per entry.
	CSV
	// JSONL is one {"key":...,"value":...} object per line.
	JSONL
)

// String returns "tsv", "csv" or "jsonl".
func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case JSONL:
		return "jsonl"
	}
	return "tsv"
}

// ParseFormat parses "tsv", "csv" or "jsonl".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "tsv":
		return TSV, nil
	case "csv":
		return CSV, nil
	case "jsonl":
		return JSONL, nil
	}
	return 0, fmt.Errorf("unknown format %q (want tsv, csv or jsonl)", s)
}

// LineError is a malformed input entry: its 1-based line number and why.
type LineError struct {
	Line int
	Msg  string
}

// Error renders "line N: why".
func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Reader reads entries in one format. Not safe for concurrent use.
type Reader struct {
	format Format
	hex    bool
	sel    Selection
	cols   *columns // sel resolved at the first record
	// started is set by the first Next (which skips a byte order mark).
	started bool
	br      *bufio.Reader
	cr      *csv.Reader
	line    int   // line number of the entry last returned
	bytes   int64 // input bytes consumed
	buf     []byte
	err     error
}

// NewReader returns a Reader of entries in format f from r; with hexEnc,
// keys and values are hex. A UTF-8 byte order mark at the start of the
// input is skipped.
func NewReader(r io.Reader, f Format, hexEnc bool) *Reader {
	rd := &Reader{format: f, hex: hexEnc}
	rd.br = bufio.NewReaderSize(&countingReader{r: r, n: &rd.bytes}, 256<<10)
	if f == CSV {
		rd.cr = csv.NewReader(rd.br)
		rd.cr.FieldsPerRecord = -1
		rd.cr.ReuseRecord = true
	}
	return rd
}

// utf8BOM is the byte order mark some programs write at the start of UTF-8
// text.
const utf8BOM = "\uFEFF"

// NewReaderSelect is NewReader for input whose entries sel picks out (see
// Selection). The error is for a selection that cannot apply to f.
func NewReaderSelect(r io.Reader, f Format, hexEnc bool, sel Selection) (*Reader, error) {
	if err := sel.Check(f); err != nil {
		return nil, err
	}
	rd := NewReader(r, f, hexEnc)
	rd.sel = sel
	return rd, nil
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// Line returns the line number of the last entry Next returned (for csv,
// the line its record starts on).
func (r *Reader) Line() int { return r.line }

// InputBytes returns the number of input bytes read so far (read ahead in
// buffers, so it runs slightly ahead of the entries returned).
func (r *Reader) InputBytes() int64 { return r.bytes }

// Next returns the next entry. key and value are new slices the caller may
// keep. At the end of the input it returns io.EOF; a malformed entry is a
// *LineError; errors of the underlying reader are returned as they are.
// After an error, Next keeps returning it.
func (r *Reader) Next() (key, value []byte, err error) {
	if r.err != nil {
		return nil, nil, r.err
	}
	if !r.started { // nothing is read before the first Next
		r.started = true
		if bom, err := r.br.Peek(len(utf8BOM)); err == nil && string(bom) == utf8BOM {
			r.br.Discard(len(utf8BOM))
		}
	}
	key, value, err = r.next()
	if err != nil {
		r.err = err
	}
	return key, value, err
}

func (r *Reader) next() (key, value []byte, err error) {
	for {
		key, value, err = r.nextRecord()
		if err != errHeader {
			return key, value, err
		}
	}
}

// nextRecord reads the next record: an entry, or errHeader for a header.
func (r *Reader) nextRecord() (key, value []byte, err error) {
	if r.format == CSV {
		return r.nextCSV()
	}
	line, err := r.readLine()
	if err != nil {
		return nil, nil, err
	}
	if r.format == JSONL {
		return r.parseJSON(line)
	}
	if !r.sel.IsZero() {
		if len(line) == 0 {
			return nil, nil, r.errorf("empty line")
		}
		return r.selectColumns(bytes.Split(line, []byte{'\t'}))
	}
	tab := bytes.IndexByte(line, '\t')
	if tab < 0 {
		if len(line) == 0 {
			return nil, nil, r.errorf("empty line (want KEY<TAB>VALUE)")
		}
		return nil, nil, r.errorf("no tab: want KEY<TAB>VALUE")
	}
	if bytes.IndexByte(line[tab+1:], '\t') >= 0 {
		return nil, nil, r.errorf("more than one tab: want KEY<TAB>VALUE (write a tab inside a key or value as \\t)")
	}
	if key, err = r.decode(line[:tab], "key"); err != nil {
		return nil, nil, err
	}
	if value, err = r.decode(line[tab+1:], "value"); err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

// readLine returns the next line without its LF (and without a CR before
// it). The slice is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.buf = append(r.buf, chunk...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			break // a last line without LF
		}
		return nil, fmt.Errorf("line %d: read: %w", r.line+1, err)
	}
	r.line++
	line := bytes.TrimSuffix(r.buf, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

func (r *Reader) nextCSV() (key, value []byte, err error) {
	rec, err := r.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			r.line = pe.StartLine
			return nil, nil, &LineError{Line: pe.StartLine, Msg: "csv: " + pe.Err.Error()}
		}
		if err == io.EOF {
			return nil, nil, io.EOF
		}
		return nil, nil, err
	}
	r.line, _ = r.cr.FieldPos(0)
	if !r.sel.IsZero() {
		fields := make([][]byte, len(rec))
		for i, f := range rec {
			fields[i] = []byte(f)
		}
		return r.selectColumns(fields)
	}
	if len(rec) != 2 {
		return nil, nil, r.errorf("%d fields, want 2 (key,value)", len(rec))
	}
	if key, err = r.decode([]byte(rec[0]), "key"); err != nil {
		return nil, nil, err
	}
	if value, err = r.decode([]byte(rec[1]), "value"); err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

type jsonEntry struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

func (r *Reader) parseJSON(line []byte) (key, value []byte, err error) {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, nil, r.errorf("empty line (want a JSON object with \"key\" and \"value\")")
	}
	if !r.sel.IsZero() {
		return r.selectJSON(line)
	}
	var e jsonEntry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, nil, r.errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, nil, r.errorf("invalid JSON: more than one value on the line")
	}
	if e.Key == nil || e.Value == nil {
		return nil, nil, r.errorf("want an object with string fields \"key\" and \"value\"")
	}
	if key, err = r.decodeJSONField(*e.Key, "key"); err != nil {
		return nil, nil, err
	}
	if value, err = r.decodeJSONField(*e.Value, "value"); err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

func (r *Reader) decodeJSONField(s, what string) ([]byte, error) {
	if r.hex {
		b, err := DecodeHex([]byte(s))
		if err != nil {
			return nil, r.errorf("%s: %v", what, err)
		}
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, r.errorf("%s is not base64: %v", what, err)
	}
	return b, nil
}

func (r *Reader) decode(field []byte, what string) ([]byte, error) {
	var b []byte
	var err error
	if r.hex {
		b, err = DecodeHex(field)
	} else {
		b, err = Unescape(field)
	}
	if err != nil {
		return nil, r.errorf("%s: %v", what, err)
	}
	return b, nil
}

func (r *Reader) errorf(format string, args ...any) error {
	return &LineError{Line: r.line, Msg: fmt.Sprintf(format, args...)}
}

// Writer writes entries in one format. Call Flush at the end. Not safe for
// concurrent use.
type Writer struct {
	format   Format
	hex      bool
	keysOnly bool
	bw       *bufio.Writer
	buf      []byte
}

// NewWriter returns a Writer of entries in format f to w; with hexEnc, keys
// and values are hex. With keysOnly, Write ignores values and writes keys
// alone (see the package comment).
func NewWriter(w io.Writer, f Format, hexEnc, keysOnly bool) *Writer {
	return &Writer{format: f, hex: hexEnc, keysOnly: keysOnly, bw: bufio.NewWriterSize(w, 64<<10)}
}

// Write writes one entry.
func (w *Writer) Write(key, value []byte) error {
	b := w.buf[:0]
	switch w.format {
	case JSONL:
		b = append(b, `{"key":"`...)
		b = w.appendJSONField(b, key)
		if !w.keysOnly {
			b = append(b, `","value":"`...)
			b = w.appendJSONField(b, value)
		}
		b = append(b, "\"}\n"...)
	case CSV:
		b = w.appendCSVField(b, key)
		if !w.keysOnly {
			b = append(b, ',')
			b = w.appendCSVField(b, value)
		}
		b = append(b, '\r', '\n')
	default:
		b = w.appendField(b, key)
		if !w.keysOnly {
			b = append(b, '\t')
			b = w.appendField(b, value)
		}
		b = append(b, '\n')
	}
	w.buf = b
	_, err := w.bw.Write(b)
	return err
}

func (w *Writer) appendField(dst, b []byte) []byte {
	if w.hex {
		return hex.AppendEncode(dst, b)
	}
	return AppendEscaped(dst, b)
}

func (w *Writer) appendJSONField(dst, b []byte) []byte {
	if w.hex {
		return hex.AppendEncode(dst, b) // hex digits need no JSON escaping
	}
	return base64.StdEncoding.AppendEncode(dst, b)
}

// appendCSVField quotes a field when RFC 4180 requires it. The text form
// and hex hold no CR or LF, so only commas, quotes and leading spaces
// matter.
func (w *Writer) appendCSVField(dst, b []byte) []byte {
	start := len(dst)
	dst = w.appendField(dst, b)
	f := dst[start:]
	if len(f) == 0 || !(bytes.ContainsAny(f, "\",") || f[0] == ' ') {
		return dst
	}
	quoted := "\"" + strings.ReplaceAll(string(f), "\"", "\"\"") + "\""
	return append(dst[:start], quoted...)
}

// Flush writes buffered entries to the underlying writer.
func (w *Writer) Flush() error { return w.bw.Flush() }
