// cpp_read_table: reads a table with C++ LevelDB's own Table class and prints
// every entry as "hex(key) hex(value)" lines, verifying checksums, then seeks
// to every key and checks it is found. TestCppLevelDBReadsTables
// (interop_test.go) builds it and runs it on tables Strata writes, in CI
// and wherever g++ and libleveldb-dev are installed. By hand:
//
//	g++ -O1 -o /tmp/cpp_read_table internal/sstable/testdata/cpp_read_table.cc -lleveldb
//	/tmp/cpp_read_table TABLE
#include <cstdio>
#include <string>
#include <vector>

#include "leveldb/env.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/table.h"

static std::string Hex(const leveldb::Slice& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = s[i];
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TABLE\n", argv[0]);
    return 2;
  }
  leveldb::Env* env = leveldb::Env::Default();
  uint64_t size;
  leveldb::Status s = env->GetFileSize(argv[1], &size);
  leveldb::RandomAccessFile* file = nullptr;
  if (s.ok()) s = env->NewRandomAccessFile(argv[1], &file);
  leveldb::Table* table = nullptr;
  leveldb::Options options;
  options.paranoid_checks = true;
  if (s.ok()) s = leveldb::Table::Open(options, file, size, &table);
  if (!s.ok()) {
    fprintf(stderr, "open: %s\n", s.ToString().c_str());
    return 1;
  }
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  leveldb::Iterator* it = table->NewIterator(ro);
  std::vector<std::string> keys;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    printf("%s %s\n", Hex(it->key()).c_str(), Hex(it->value()).c_str());
    keys.push_back(it->key().ToString());
  }
  if (!it->status().ok()) {
    fprintf(stderr, "scan: %s\n", it->status().ToString().c_str());
    return 1;
  }
  // The keys are internal keys but the bytewise comparator is used here:
  // the interop tables have fixed-length user keys, one version each, for
  // which internal order and bytewise order agree.
  int bad = 0;
  for (const std::string& k : keys) {
    it->Seek(k);
    if (!it->Valid() || it->key() != leveldb::Slice(k)) bad++;
  }
  delete it;
  delete table;
  delete file;
  if (bad) {
    fprintf(stderr, "%d seeks failed\n", bad);
    return 1;
  }
  return 0;
}
