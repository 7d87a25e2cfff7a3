// oracle drives C++ LevelDB's own log::Writer and log::Reader (linked from
// libleveldb.a) so Strata's record package can be checked against them.
// The classes live in LevelDB's private headers (db/log_writer.h,
// db/log_reader.h), which are not installed, so their declarations are
// restated here; they must match LevelDB 1.23's layout.
//
//   oracle write RECORDS OUT OFFSET  # frame file -> log (Writer(dest, OFFSET))
//   oracle read LOG RECORDS          # log -> frame file; drops go to stderr
//
// A frame file is a sequence of (uint32 little-endian length, bytes).
#include <cstdint>
#include <cstdio>
#include <string>

#include "leveldb/env.h"
#include "leveldb/slice.h"
#include "leveldb/status.h"

namespace leveldb {
namespace log {

class Writer {
 public:
  Writer(WritableFile* dest, uint64_t dest_length);
  ~Writer();
  Status AddRecord(const Slice& slice);

 private:
  WritableFile* dest_;
  int block_offset_;
  uint32_t type_crc_[5];
};

class Reader {
 public:
  class Reporter {
   public:
    virtual ~Reporter();
    virtual void Corruption(size_t bytes, const Status& status) = 0;
  };
  Reader(SequentialFile* file, Reporter* reporter, bool checksum,
         uint64_t initial_offset);
  ~Reader();
  bool ReadRecord(Slice* record, std::string* scratch);
  uint64_t LastRecordOffset();

 private:
  SequentialFile* const file_;
  Reporter* const reporter_;
  bool const checksum_;
  char* const backing_store_;
  Slice buffer_;
  bool eof_;
  uint64_t last_record_offset_;
  uint64_t end_of_buffer_offset_;
  uint64_t const initial_offset_;
  bool resyncing_;
};

}  // namespace log
}  // namespace leveldb

namespace {

struct StderrReporter : leveldb::log::Reader::Reporter {
  void Corruption(size_t bytes, const leveldb::Status& s) override {
    std::fprintf(stderr, "drop %zu: %s\n", bytes, s.ToString().c_str());
  }
};

int Fail(const leveldb::Status& s) {
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  leveldb::Env* env = leveldb::Env::Default();
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 5) {
    std::string in;
    leveldb::Status s = leveldb::ReadFileToString(env, argv[2], &in);
    if (!s.ok()) return Fail(s);
    leveldb::WritableFile* out;
    s = env->NewWritableFile(argv[3], &out);
    if (!s.ok()) return Fail(s);
    leveldb::log::Writer w(out, std::stoull(argv[4]));
    size_t p = 0;
    while (p + 4 <= in.size()) {
      const unsigned char* b =
          reinterpret_cast<const unsigned char*>(in.data() + p);
      uint32_t n = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
      s = w.AddRecord(leveldb::Slice(in.data() + p + 4, n));
      if (!s.ok()) return Fail(s);
      p += 4 + n;
    }
    s = out->Close();
    delete out;
    return s.ok() ? 0 : Fail(s);
  }
  if (mode == "read" && argc == 4) {
    leveldb::SequentialFile* in;
    leveldb::Status s = env->NewSequentialFile(argv[2], &in);
    if (!s.ok()) return Fail(s);
    StderrReporter rep;
    leveldb::log::Reader r(in, &rep, true, 0);
    std::string frames, scratch;
    leveldb::Slice rec;
    while (r.ReadRecord(&rec, &scratch)) {
      uint32_t n = rec.size();
      char hdr[4] = {char(n), char(n >> 8), char(n >> 16), char(n >> 24)};
      frames.append(hdr, 4);
      frames.append(rec.data(), rec.size());
    }
    delete in;
    s = leveldb::WriteStringToFile(env, frames, argv[3]);
    return s.ok() ? 0 : Fail(s);
  }
  std::fprintf(stderr, "usage: oracle write RECORDS OUT OFFSET | oracle read LOG RECORDS\n");
  return 2;
}
