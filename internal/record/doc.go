// Package record reads and writes LevelDB's log format, the container of
// the write-ahead log (NNNNNN.log) and of the MANIFEST. Files written here
// are byte-for-byte what C++ LevelDB 1.23's log::Writer produces, and every
// file that log::Writer produces reads back here.
//
// A log is a sequence of 32 KiB blocks (the last one may be short). A record
// is cut into chunks that never cross a block boundary; each chunk carries a
// 7-byte header with a checksum. The exact byte layout is documented in
// writer.go beside the code that produces it.
//
// # Invariants
//
//   - A chunk header starts at every block start, and right after every
//     chunk that ends at least 7 bytes before its block end. The last 0..6
//     bytes of a block after a chunk are zero filled (the trailer).
//   - Writer.WriteRecord hands the whole encoded record (trailer padding,
//     headers and payload) to the underlying io.Writer in one Write call, so
//     a record is either wholly handed to the OS or not at all. After a
//     failed Write the Writer refuses all further work with that error.
//   - Reader.Next never returns a record that was not written: every byte it
//     returns is covered by a verified crc32c, and fragments are joined only
//     in FIRST, MIDDLE..., LAST order.
//
// # Damage handling (Reader)
//
// The reader tells a torn tail, which a crash of an unsynced writer
// legitimately leaves behind, from corruption, which means data that may
// have been acknowledged was damaged. Damage is any of: a checksum
// mismatch, a type other than 1..4, a length running past the block, a
// header cut short by the end of the file, zero padding inside a record, a
// MIDDLE or LAST chunk with no FIRST before it, a FULL or FIRST chunk that
// interrupts a non-empty record, or the end of the file inside a record.
// The rule that classifies damage at offset X:
//
//   - Corruption if a valid chunk starts anywhere after the damage: a
//     candidate counts as valid when its type is 1..4, its payload fits in
//     its block and in the file, and its crc32c matches. Every byte offset
//     is tried, from X+1 for a chunk that fails its checks (its length, and
//     so the next header's position, is in doubt), or from the end of an
//     intact but orphaned MIDDLE or LAST chunk. A FULL or FIRST chunk that
//     interrupts a record is itself such a valid chunk, so it is always
//     corruption. Next returns a *base.CorruptionError naming the file and
//     X; the error is sticky until Skip.
//   - Otherwise it is a torn tail: Next returns io.EOF, and TornTail
//     reports the offset just past the last record returned (the point to
//     truncate the file to before appending) and the byte count after it.
//
// So damage followed by intact data is never reported as a clean end of
// file, and a torn tail is reported as corruption only if the torn bytes
// happen to contain a valid chunk (a payload that embeds a log file, or
// remnants of an unsynced write that the file system persisted out of
// order).
//
// Padding: a header of 7 zero bytes followed by zeros to the end of the
// block (the preallocated regions of LevelDB's old mmap writer) is skipped,
// as are the 0..6 trailer bytes at the end of a full block, whatever they
// hold. Zero padding at the end of the file counts towards TornTail's byte
// count, so the caller truncates it before appending with NewWriterAt
// (appending after it would hide the new records behind the padding).
// An old LevelDB writer bug left an empty FIRST chunk directly followed by
// a FULL or FIRST chunk; nothing is lost there, and it is accepted.
//
// Salvage (repair): after a corruption error, Skip resumes at the next
// block boundary after the damaged chunk (blocks holding no valid chunk at
// all are passed over), or, when the damage was an intact chunk in the
// wrong place, right at the interrupting FULL or FIRST chunk or right after
// the orphaned MIDDLE or LAST chunk. MIDDLE and LAST chunks met while
// resuming belong to a record whose start was lost and are dropped until a
// FULL or FIRST chunk starts a record, as LevelDB does. Dropped counts the
// bytes given up. Resuming inside a damaged block only at positions reached
// by following intact chunks keeps chunk-shaped bytes inside a payload from
// ever being returned as a record.
//
// Neither Writer nor Reader is safe for concurrent use.
package record
