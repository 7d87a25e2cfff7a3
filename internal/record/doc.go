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
//   - A chunk header starts at every block start, and after every chunk
//     whose header starts at least 7 bytes before the block end. The last
//     0..6 bytes of a block are zero filled (the trailer) and hold no chunk.
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
// The reader distinguishes a torn tail, which a crash of an unsynced writer
// legitimately leaves behind, from corruption, which means acknowledged data
// was damaged. When it meets a chunk it cannot use at offset X (a checksum
// mismatch, a type other than 1..4, a length running past the block, a
// header cut short by the end of the file, a FULL or FIRST chunk while a
// non-empty record is being assembled, a MIDDLE or LAST chunk with no FIRST
// before it, or the end of the file in the middle of a record) it decides
// between the two by looking for a valid chunk anywhere after X:
//
//   - The search tries every byte offset after X (after the whole chunk when
//     the chunk at X has a good checksum), to the end of the file, because
//     once a length is in doubt the next header's position is unknown. A
//     candidate counts as valid when its type is 1..4, its payload fits in
//     its block and in the file, and its crc32c matches.
//   - If no candidate is found, the damage is a torn tail: Next returns
//     io.EOF and TornTail reports the offset just past the last record
//     returned (the point to truncate the file to before appending) and the
//     number of bytes after it.
//   - Otherwise Next returns a *base.CorruptionError naming the file and X.
//     The error is sticky: Next keeps returning it until Skip is called.
//
// Consequently a torn tail is never reported as corruption unless the torn
// bytes happen to contain a valid chunk (for instance a user value that
// embeds a log file), and damage followed by intact data is never reported
// as a clean end of file.
//
// Padding: a header of 7 zero bytes followed by zeros to the end of the
// block (the preallocated regions of LevelDB's old mmap writer) is skipped,
// as are the 0..6 trailer bytes at the end of each full block. Zero padding
// at the end of the file counts towards TornTail's byte count, so the caller
// can truncate it before appending with NewWriterAt.
//
// Salvage (repair): after a corruption error, Skip resumes reading at the
// next block boundary after the damage that holds a valid chunk; MIDDLE and
// LAST chunks at the resume point belong to a record whose start was lost and
// are dropped until a FULL or FIRST chunk is found (as LevelDB does).
// Dropped counts every byte given up this way. Resuming only at block
// boundaries (never at a valid-looking chunk inside a damaged block) keeps a
// chunk-shaped run of bytes inside a record's payload from being returned as
// a record.
//
// Neither Writer nor Reader is safe for concurrent use.
package record
