// Package inspect looks inside a Strata (or LevelDB) database directory
// without opening it as a database: it describes table files block by block,
// decodes MANIFEST version edits and write-ahead-log batches, rebuilds the
// shape of the LSM tree from the MANIFEST (and renders it as text, SVG or
// PNG), lists every version of a key across tables and logs (KeyHistory),
// checks a whole database, reporting each problem with its file and byte
// offset, and reads back the engine's events from its info log
// (ReadEvents). It is the library behind `strata sst`, `strata manifest`,
// `strata wal`, `strata lsm`, `strata stats`, `strata idump` and `strata
// check`.
//
// Everything here only reads: no function of this package writes to a
// database directory or takes its lock, so it may run beside a process that
// has the database open (what it reports then is a snapshot that may be
// slightly behind).
//
// Keys are shown through a KeyFormat; the default renders the text form of
// package dataio (printable bytes as they are, others as \xNN).
package inspect

import "github.com/strata-db/strata/dataio"

// KeyFormat renders a user key (or value) for people.
type KeyFormat func([]byte) string

// TextKeys is the default KeyFormat: dataio's text form.
func TextKeys(b []byte) string { return dataio.Escape(b) }

func (f KeyFormat) orDefault() KeyFormat {
	if f == nil {
		return TextKeys
	}
	return f
}
