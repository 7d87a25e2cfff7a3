// leveldb_bench: the workloads of `strata bench` (tools/dbbench)
// run against C++ LevelDB, with the same flags, the same keys (zero-padded
// decimal), the same values (db_bench's RandomGenerator), the same seeds and
// the same report lines in RocksDB's db_bench format, so the bench module
// parses every engine's output with one parser.
//
// Build: g++ -O2 -DNDEBUG -std=c++17 -o leveldb_bench leveldb_bench.cc -lleveldb -lpthread
// (the bench module's runner does this when libleveldb-dev is installed).

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Flags, with dbbench.DefaultConfig's defaults.
struct Flags {
  std::vector<std::string> benchmarks = {"fillseq", "fillrandom", "readrandom"};
  long num = 1000000, reads = -1, writes = -1;
  int key_size = 16, value_size = 100, threads = 1, batch_size = 1, seek_nexts = 0;
  double compression_ratio = 0.5;
  long seed = 1000;
  bool histogram = false, sync = false, disable_wal = false, use_existing_db = false;
  std::string db = "/tmp/leveldb-dbbench", compression_type = "snappy";
  long cache_size = 8 << 20, write_buffer_size = 4 << 20, block_size = 4096;
  int bloom_bits = 10, open_files = 0;
  // As dbbench's --duration, --benchmark_write_rate_limit,
  // --report_interval_seconds and --report_file (RocksDB's flags).
  long duration = 0, write_rate_limit = 0, report_interval = 0;
  std::string report_file = "report.csv";
} F;

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "leveldb_bench: %s\n", msg.c_str());
  std::exit(1);
}

bool ParseBool(const std::string& name, const std::string& v) {
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  Die("--" + name + " wants 0/1 or true/false, not " + v);
}

long ParseInt(const std::string& name, const std::string& v) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') Die("--" + name + " wants an integer, not " + v);
  return n;
}

void ParseFlags(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) Die("unexpected argument " + a);
    size_t eq = a.find('=');
    std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string v = eq == std::string::npos ? "true" : a.substr(eq + 1);
    if (name == "benchmarks") {
      F.benchmarks.clear();
      std::stringstream ss(v);
      std::string b;
      while (std::getline(ss, b, ',')) if (!b.empty()) F.benchmarks.push_back(b);
    } else if (name == "num") F.num = ParseInt(name, v);
    else if (name == "reads") F.reads = ParseInt(name, v);
    else if (name == "writes") F.writes = ParseInt(name, v);
    else if (name == "key_size") F.key_size = ParseInt(name, v);
    else if (name == "value_size") F.value_size = ParseInt(name, v);
    else if (name == "threads") F.threads = ParseInt(name, v);
    else if (name == "batch_size") F.batch_size = ParseInt(name, v);
    else if (name == "seek_nexts") F.seek_nexts = ParseInt(name, v);
    else if (name == "seed") F.seed = ParseInt(name, v);
    else if (name == "compression_ratio") F.compression_ratio = std::atof(v.c_str());
    else if (name == "histogram") F.histogram = ParseBool(name, v);
    else if (name == "sync") F.sync = ParseBool(name, v);
    else if (name == "disable_wal") F.disable_wal = ParseBool(name, v);
    else if (name == "use_existing_db") F.use_existing_db = ParseBool(name, v);
    else if (name == "db") F.db = v;
    else if (name == "compression_type") F.compression_type = v;
    else if (name == "cache_size") F.cache_size = ParseInt(name, v);
    else if (name == "write_buffer_size") F.write_buffer_size = ParseInt(name, v);
    else if (name == "block_size") F.block_size = ParseInt(name, v);
    else if (name == "bloom_bits") F.bloom_bits = ParseInt(name, v);
    else if (name == "open_files") F.open_files = ParseInt(name, v);
    else if (name == "duration") F.duration = ParseInt(name, v);
    else if (name == "benchmark_write_rate_limit") F.write_rate_limit = ParseInt(name, v);
    else if (name == "report_interval_seconds") F.report_interval = ParseInt(name, v);
    else if (name == "report_file") F.report_file = v;
    else Die("unknown flag --" + name);
  }
  if (F.num < 1 || F.threads < 1 || F.batch_size < 1) Die("--num, --threads and --batch_size must be at least 1");
  if (F.compression_type != "snappy" && F.compression_type != "none")
    Die("--compression_type must be none or snappy for LevelDB, not " + F.compression_type);
  if (std::to_string(F.num - 1).size() > (size_t)F.key_size) Die("--key_size too small for --num");
}

// LevelDB's util/random.h: Park-Miller, as in dbbench.Random.
class Random {
 public:
  explicit Random(uint32_t s) : seed_(s & 0x7fffffffu) {
    if (seed_ == 0 || seed_ == 2147483647L) seed_ = 1;
  }
  uint32_t Next() {
    const uint32_t M = 2147483647L;
    const uint64_t A = 16807;
    uint64_t product = seed_ * A;
    seed_ = static_cast<uint32_t>((product >> 31) + (product & M));
    if (seed_ > M) seed_ -= M;
    return seed_;
  }
  uint32_t Uniform(int n) { return Next() % n; }

 private:
  uint32_t seed_;
};

// db_bench's RandomGenerator, as dbbench.ValueGenerator.
class ValueGenerator {
 public:
  ValueGenerator() {
    Random rnd(301);
    size_t size = std::max<size_t>(1 << 20, F.value_size);
    while (data_.size() < size) {
      int raw = std::max(1, static_cast<int>(100 * F.compression_ratio));
      std::string raw_data;
      for (int i = 0; i < raw; i++) raw_data.push_back(static_cast<char>(' ' + rnd.Uniform(95)));
      std::string piece;
      while (piece.size() < 100) piece.append(raw_data);
      piece.resize(100);
      data_.append(piece);
    }
  }
  leveldb::Slice Generate(size_t len) {
    if (pos_ + len > data_.size()) pos_ = 0;
    pos_ += len;
    return leveldb::Slice(data_.data() + pos_ - len, len);
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

// Zero-padded decimal of key_size bytes, as dbbench.KeyFormat.
struct Key {
  char buf[1100];
  size_t len = 0;
  leveldb::Slice Set(long k) {
    std::string digits = std::to_string(k);
    size_t pad = digits.size() < (size_t)F.key_size ? F.key_size - digits.size() : 0;
    std::memset(buf, '0', pad);
    std::memcpy(buf + pad, digits.data(), digits.size());
    len = pad + digits.size();
    return leveldb::Slice(buf, len);
  }
  leveldb::Slice Missing(long k) {  // the key with "." appended: never present
    Set(k);
    buf[len++] = '.';
    return leveldb::Slice(buf, len);
  }
};

using Clock = std::chrono::steady_clock;

// The same log-linear histogram as dbbench.Histogram (nanoseconds).
class Histogram {
 public:
  static const int kLinear = 128, kSub = 64, kBuckets = kLinear + 57 * kSub;
  Histogram() : counts_(kBuckets, 0) {}
  static int Index(uint64_t v) {
    if (v < kLinear) return static_cast<int>(v);
    int e = 64 - __builtin_clzll(v) - 7;
    return kLinear + (e - 1) * kSub + static_cast<int>(v >> e) - kSub;
  }
  static uint64_t Lower(int i) {
    if (i < kLinear) return i;
    i -= kLinear;
    int e = i / kSub + 1;
    return static_cast<uint64_t>(kSub + i % kSub) << e;
  }
  void Add(uint64_t v) {
    counts_[Index(v)]++;
    if (n_ == 0 || v < min_) min_ = v;
    if (v > max_) max_ = v;
    n_++;
    sum_ += v;
    sum_sq_ += static_cast<double>(v) * v;
  }
  void Merge(const Histogram& o) {
    if (o.n_ == 0) return;
    for (int i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
    if (n_ == 0 || o.min_ < min_) min_ = o.min_;
    max_ = std::max(max_, o.max_);
    n_ += o.n_;
    sum_ += o.sum_;
    sum_sq_ += o.sum_sq_;
  }
  double Percentile(double p) const {
    if (n_ == 0) return 0;
    double threshold = n_ * p / 100;
    uint64_t cum = 0;
    for (int i = 0; i < kBuckets; i++) {
      if (counts_[i] == 0) continue;
      cum += counts_[i];
      if (cum >= threshold) {
        double left = Lower(i), right = Lower(i + 1);
        double r = left + (right - left) * (threshold - (cum - counts_[i])) / counts_[i];
        return std::min(std::max(r, static_cast<double>(min_)), static_cast<double>(max_));
      }
    }
    return max_;
  }
  uint64_t Count() const { return n_; }
  std::string ToString() const {
    char buf[400];
    double mean = n_ ? sum_ / n_ : 0;
    double var = n_ ? sum_sq_ / n_ - mean * mean : 0;
    std::string s;
    std::snprintf(buf, sizeof(buf), "Count: %llu Average: %.4f  StdDev: %.2f\n", (unsigned long long)n_, mean / 1e3,
                  std::sqrt(std::max(var, 0.0)) / 1e3);
    s += buf;
    std::snprintf(buf, sizeof(buf), "Min: %.3f  Median: %.4f  Max: %.3f\n", min_ / 1e3, Percentile(50) / 1e3, max_ / 1e3);
    s += buf;
    std::snprintf(buf, sizeof(buf), "Percentiles: P50: %.2f P75: %.2f P99: %.2f P99.9: %.2f P99.99: %.2f\n",
                  Percentile(50) / 1e3, Percentile(75) / 1e3, Percentile(99) / 1e3, Percentile(99.9) / 1e3,
                  Percentile(99.99) / 1e3);
    s += buf;
    s += "------------------------------------------------------\n";
    if (n_ == 0) return s;
    // The bucket table on RocksDB's limits, as dbbench.Histogram prints it:
    // a fine bucket goes where its lowest value (in whole microseconds) falls.
    const std::vector<double>& limits = RocksLimits();
    std::vector<uint64_t> coarse(limits.size(), 0);
    for (int i = 0; i < kBuckets; i++) {
      if (counts_[i] == 0) continue;
      double v = static_cast<double>(Lower(i) / 1000);
      size_t j = 0;
      while (j < limits.size() - 1 && limits[j] < v) j++;
      coarse[j] += counts_[i];
    }
    double mult = 100.0 / n_;
    uint64_t cum = 0;
    for (size_t j = 0; j < coarse.size(); j++) {
      if (coarse[j] == 0) continue;
      cum += coarse[j];
      double left = j > 0 ? limits[j - 1] : 0;
      std::snprintf(buf, sizeof(buf), "%c %7.0f, %7.0f ] %8llu %7.3f%% %7.3f%% %s\n", j > 0 ? '(' : '[', left, limits[j],
                    (unsigned long long)coarse[j], mult * coarse[j], mult * cum,
                    std::string(static_cast<size_t>(mult * coarse[j] / 5 + 0.5), '#').c_str());
      s += buf;
    }
    return s;
  }

 private:
  // RocksDB's HistogramBucketMapper limits in microseconds (as dbbench's
  // rocksBucketLimits): 1, 2, then each 1.5 times the last, cut to two
  // significant digits.
  static const std::vector<double>& RocksLimits() {
    static const std::vector<double> limits = [] {
      std::vector<double> l = {1, 2};
      double v = 2;
      for (;;) {
        v *= 1.5;
        if (v > 1e13) return l;
        uint64_t b = static_cast<uint64_t>(v), pow = 1;
        while (b / 10 > 10) b /= 10, pow *= 10;
        l.push_back(static_cast<double>(b * pow));
      }
    }();
    return limits;
  }
  std::vector<uint64_t> counts_;
  uint64_t n_ = 0, min_ = 0, max_ = 0;
  double sum_ = 0, sum_sq_ = 0;
};

// One thread's counters, as dbbench's threadStats.
// Reporter writes a benchmark's operations per interval to --report_file,
// as dbbench's reporter and RocksDB's ReporterAgent do.
class Reporter {
 public:
  std::atomic<long> ops{0};
  Reporter() {
    f_ = std::fopen(F.report_file.c_str(), "w");
    if (f_ == nullptr) Die("cannot create --report_file " + F.report_file);
    std::fprintf(f_, "secs_elapsed,interval_qps\n");
    std::fflush(f_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Reporter() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::fclose(f_);
  }

 private:
  void Loop() {
    auto start = Clock::now();
    auto next = start;
    long last = 0;
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      next += std::chrono::seconds(F.report_interval);
      if (cv_.wait_until(l, next, [this] { return stop_; })) return;
      long total = ops.load();
      long secs = static_cast<long>(std::chrono::duration<double>(Clock::now() - start).count() + 0.5);
      std::fprintf(f_, "%ld,%ld\n", secs, (total - last) / F.report_interval);
      std::fflush(f_);
      last = total;
    }
  }
  std::FILE* f_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

struct Stats {
  Clock::time_point start, finish, last;
  double seconds = 0;
  long done = 0, bytes = 0, found = 0, reads = -1;
  std::string message;
  Histogram hist;
  std::atomic<long>* report = nullptr;  // --report_interval_seconds
  void Begin() {
    done = bytes = found = 0;
    reads = -1;
    seconds = 0;
    hist = Histogram();
    start = finish = last = Clock::now();
  }
  void Stop() {
    finish = Clock::now();
    seconds = std::chrono::duration<double>(finish - start).count();
  }
  void FinishedOps(int n) {
    if (F.histogram) {
      auto now = Clock::now();
      hist.Add(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last).count());
      last = now;
    }
    done += n;
    if (report != nullptr) *report += n;
  }
  void Merge(const Stats& o) {
    hist.Merge(o.hist);
    done += o.done;
    bytes += o.bytes;
    seconds += o.seconds;
    if (o.reads >= 0) {
      found += o.found;
      reads = std::max(reads, 0L) + o.reads;
    }
    start = std::min(start, o.start);
    finish = std::max(finish, o.finish);
    if (message.empty()) message = o.message;
  }
  void Report(const std::string& name, const char* kind) {
    long n = std::max(done, 1L);
    double elapsed = std::chrono::duration<double>(finish - start).count();
    if (elapsed <= 0) elapsed = 1e-9;
    std::string extra;
    char buf[200];
    auto add = [&](const std::string& m) {
      if (m.empty()) return;
      if (!extra.empty()) extra += " ";
      extra += m;
    };
    if (bytes > 0) {
      std::snprintf(buf, sizeof(buf), "%6.1f MB/s", bytes / 1048576.0 / elapsed);
      add(buf);
    }
    if (reads >= 0) {
      std::snprintf(buf, sizeof(buf), "(%ld of %ld found)", found, reads);
      add(buf);
    }
    add(message);
    std::printf("%-12s : %11.3f micros/op %ld ops/sec %.3f seconds %ld operations;%s%s\n", name.c_str(),
                seconds * 1e6 / n, static_cast<long>(n / elapsed), elapsed, n, extra.empty() ? "" : " ", extra.c_str());
    if (F.histogram && hist.Count() > 0) std::printf("Microseconds per %s:\n%s\n", kind, hist.ToString().c_str());
    std::fflush(stdout);
  }
};

struct Thread {
  int tid;
  Random rand;
  Stats stats;
  ValueGenerator gen;
  Key key;
  Thread(int t, uint32_t seed) : tid(t), rand(seed) {}
};

class Bench {
 public:
  Bench() {
    if (F.cache_size > 0) cache_.reset(leveldb::NewLRUCache(F.cache_size));
    if (F.bloom_bits > 0) filter_.reset(leveldb::NewBloomFilterPolicy(F.bloom_bits));
  }
  ~Bench() { delete db_; }

  void Run() {
    PrintHeader();
    if (!F.use_existing_db) Destroy();
    Open();
    for (const std::string& name : F.benchmarks) RunOne(name);
  }

 private:
  struct Spec {
    std::function<void(Thread*)> method;
    bool fresh = false;
    int threads = F.threads;
    long writes = F.writes >= 0 ? F.writes : F.num;
    long reads = F.reads >= 0 ? F.reads : F.num;
    int batch = F.batch_size;
    bool sync = F.sync;
    const char* kind = "write";
    Clock::time_point deadline{};  // --duration; epoch: none
    // --benchmark_write_rate_limit: bytes written so far, due at this rate.
    std::atomic<long> paced{0};
    Clock::time_point pace_start;
    long writer_ops = 0;
    double writer_secs = 0;
    // Expired: past --duration at the i'th operation (checked every 16).
    bool Expired(long i) const {
      return F.duration > 0 && (i & 15) == 0 && Clock::now() > deadline;
    }
    // Pace: sleep until a write of n bytes is due (dbbench's pacer).
    void Pace(long n) {
      if (F.write_rate_limit <= 0) return;
      long before = paced.fetch_add(n);
      auto due = pace_start + std::chrono::nanoseconds(static_cast<long>(before * 1e9 / F.write_rate_limit));
      if (due > Clock::now()) std::this_thread::sleep_until(due);
    }
  };

  void PrintHeader() {
    std::printf("Engine:     leveldb %d.%d\n", leveldb::kMajorVersion, leveldb::kMinorVersion);
    std::time_t now = std::time(nullptr);
    std::printf("Date:       %s", std::ctime(&now));
    std::printf("Keys:       %d bytes each\n", F.key_size);
    std::printf("Values:     %d bytes each (%d bytes after compression)\n", F.value_size,
                static_cast<int>(F.value_size * F.compression_ratio + 0.5));
    std::printf("Entries:    %ld\n", F.num);
    std::printf("Compression: %s\n", F.compression_type.c_str());
    std::printf("DB path:    [%s]\n", F.db.c_str());
    if (F.disable_wal) std::printf("WARNING: LevelDB cannot disable its WAL; --disable_wal is ignored\n");
    std::printf("------------------------------------------------\n");
  }

  void Check(const leveldb::Status& s, const std::string& what) {
    if (!s.ok()) Die(what + ": " + s.ToString());
  }

  void Open() {
    leveldb::Options o;
    o.create_if_missing = !F.use_existing_db;
    o.block_cache = cache_.get();
    o.filter_policy = filter_.get();
    o.write_buffer_size = F.write_buffer_size;
    o.block_size = F.block_size;
    if (F.open_files > 0) o.max_open_files = F.open_files;
    o.compression = F.compression_type == "none" ? leveldb::kNoCompression : leveldb::kSnappyCompression;
    Check(leveldb::DB::Open(o, F.db, &db_), "opening " + F.db);
  }

  void Destroy() { Check(leveldb::DestroyDB(F.db, leveldb::Options()), "destroying " + F.db); }

  void RunOne(const std::string& name) {
    Spec s;
    if (name == "fillseq") s.fresh = true, s.method = [this, &s](Thread* t) { Write(t, s, 's'); };
    else if (name == "fillbatch") s.fresh = true, s.batch = 1000, s.method = [this, &s](Thread* t) { Write(t, s, 's'); };
    else if (name == "fillrandom") s.fresh = true, s.method = [this, &s](Thread* t) { Write(t, s, 'r'); };
    else if (name == "filluniquerandom") s.fresh = true, s.threads = 1, s.method = [this, &s](Thread* t) { Write(t, s, 'u'); };
    else if (name == "overwrite") s.method = [this, &s](Thread* t) { Write(t, s, 'r'); };
    else if (name == "fillsync") {
      s.fresh = true, s.sync = true, s.writes = std::max(s.writes / 1000, 1L);
      s.method = [this, &s](Thread* t) { Write(t, s, 'r'); };
    } else if (name == "deleterandom") s.kind = "delete", s.method = [this, &s](Thread* t) { Delete(t, s, false); };
    else if (name == "deleteseq") s.kind = "delete", s.method = [this, &s](Thread* t) { Delete(t, s, true); };
    else if (name == "readrandom") s.kind = "read", s.method = [this, &s](Thread* t) { Read(t, s, false); };
    else if (name == "readmissing") s.kind = "read", s.method = [this, &s](Thread* t) { Read(t, s, true); };
    else if (name == "readseq") s.kind = "read", s.method = [this, &s](Thread* t) { Scan(t, s, false); };
    else if (name == "readreverse") s.kind = "read", s.method = [this, &s](Thread* t) { Scan(t, s, true); };
    else if (name == "seekrandom") s.kind = "seek", s.method = [this, &s](Thread* t) { Seek(t, s); };
    else if (name == "readwhilewriting") {
      s.kind = "read", s.threads = F.threads + 1;
      s.method = [this, &s](Thread* t) { ReadWhileWriting(t, s); };
    } else if (name == "waitforcompaction") s.kind = "op", s.threads = 1, s.method = [this](Thread* t) { Settle(); t->stats.FinishedOps(1); };
    else if (name == "flush") s.kind = "op", s.threads = 1, s.method = [](Thread* t) { t->stats.FinishedOps(1); };  // no flush call: compact flushes
    else if (name == "compact") s.kind = "op", s.threads = 1, s.method = [this](Thread* t) { db_->CompactRange(nullptr, nullptr); t->stats.FinishedOps(1); };
    else if (name == "stats") {
      std::string v;
      db_->GetProperty("leveldb.stats", &v);
      std::printf("\n%s\n", v.c_str());
      return;
    } else Die("unknown benchmark " + name);
    if (s.fresh) {
      if (F.use_existing_db) {
        std::printf("%-12s : skipped (--use_existing_db is true)\n", name.c_str());
        return;
      }
      delete db_;
      db_ = nullptr;
      Destroy();
      Open();
    }
    std::vector<std::unique_ptr<Thread>> threads;
    // As dbbench and RocksDB's db_bench: waitforcompaction and flush start
    // no thread there, so they take no seed.
    const bool seeded = name != "waitforcompaction" && name != "flush";
    for (int i = 0; i < s.threads; i++)
      threads.emplace_back(new Thread(i, static_cast<uint32_t>(F.seed + (seeded ? ++thread_count_ : thread_count_))));
    std::unique_ptr<Reporter> reporter;
    if (F.report_interval > 0 && std::string(s.kind) != "op") {  // as dbbench: not waitforcompaction, flush, compact
      reporter.reset(new Reporter);
      for (auto& t : threads) t->stats.report = &reporter->ops;
    }
    readers_done_ = 0;
    std::mutex mu;
    std::condition_variable cv;
    bool go = false;
    std::vector<std::thread> running;
    for (auto& t : threads) {
      Thread* tp = t.get();
      running.emplace_back([&, tp] {
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return go; });
        }
        tp->stats.Begin();
        s.method(tp);
        tp->stats.Stop();
        if (tp->tid > 0 || name != "readwhilewriting") readers_done_++;
      });
    }
    {
      std::lock_guard<std::mutex> l(mu);
      go = true;
      s.deadline = Clock::now() + std::chrono::seconds(F.duration);
      s.pace_start = Clock::now();
    }
    cv.notify_all();
    for (auto& th : running) th.join();
    reporter.reset();
    Stats& merged = threads[0]->stats;
    for (size_t i = 1; i < threads.size(); i++) merged.Merge(threads[i]->stats);
    if (s.fresh && s.writes != F.num) merged.message = "(" + std::to_string(s.writes) + " ops)";
    if (name == "readwhilewriting" && s.writer_secs > 0) {
      char buf[100];
      std::snprintf(buf, sizeof(buf), "(writer: %ld writes, %.0f/s)", s.writer_ops, s.writer_ops / s.writer_secs);
      merged.message += (merged.message.empty() ? "" : " ") + std::string(buf);
    }
    merged.Report(name, s.kind);
  }

  void Write(Thread* t, Spec& s, char order) {
    std::vector<int32_t> perm;
    if (order == 'u') {
      perm.resize(F.num);
      for (long i = 0; i < F.num; i++) perm[i] = i;
      for (long i = F.num - 1; i > 0; i--) std::swap(perm[i], perm[t->rand.Uniform(i + 1)]);
      t->stats.Begin();
      s.writes = std::min(s.writes, F.num);
    }
    leveldb::WriteOptions wo;
    wo.sync = s.sync;
    leveldb::WriteBatch batch;
    long bytes = 0;
    for (long i = 0; i < s.writes; i += s.batch) {
      long n = std::min<long>(s.batch, s.writes - i);
      s.Pace(n * (F.key_size + F.value_size));
      batch.Clear();
      for (long j = 0; j < n; j++) {
        long k = order == 's' ? i + j : order == 'u' ? perm[i + j] : t->rand.Uniform(F.num);
        batch.Put(t->key.Set(k), t->gen.Generate(F.value_size));
      }
      Check(db_->Write(wo, &batch), "write");
      bytes += n * (F.key_size + F.value_size);
      t->stats.FinishedOps(n);
    }
    t->stats.bytes += bytes;
  }

  void Delete(Thread* t, Spec& s, bool seq) {
    leveldb::WriteOptions wo;
    wo.sync = s.sync;
    leveldb::WriteBatch batch;
    for (long i = 0; i < s.writes; i += s.batch) {
      long n = std::min<long>(s.batch, s.writes - i);
      s.Pace(n * F.key_size);
      batch.Clear();
      for (long j = 0; j < n; j++) batch.Delete(t->key.Set(seq ? i + j : t->rand.Uniform(F.num)));
      Check(db_->Write(wo, &batch), "delete");
      t->stats.FinishedOps(n);
    }
  }

  void Read(Thread* t, Spec& s, bool missing) {
    leveldb::ReadOptions ro;
    std::string value;
    long found = 0, bytes = 0, i = 0;
    for (; i < s.reads && !s.Expired(i); i++) {
      long k = t->rand.Uniform(F.num);
      leveldb::Slice key = missing ? t->key.Missing(k) : t->key.Set(k);
      leveldb::Status st = db_->Get(ro, key, &value);
      if (st.ok()) {
        found++;
        bytes += key.size() + value.size();
      } else if (!st.IsNotFound()) {
        Die("get: " + st.ToString());
      }
      t->stats.FinishedOps(1);
    }
    t->stats.bytes += bytes;
    t->stats.found = found;
    t->stats.reads = i;
  }

  void Scan(Thread* t, Spec& s, bool reverse) {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    long bytes = 0, i = 0;
    for (reverse ? it->SeekToLast() : it->SeekToFirst(); it->Valid() && i < s.reads; reverse ? it->Prev() : it->Next()) {
      bytes += it->key().size() + it->value().size();
      t->stats.FinishedOps(1);
      i++;
    }
    Check(it->status(), "iterator");
    t->stats.bytes += bytes;
  }

  void Seek(Thread* t, Spec& s) {
    long found = 0, bytes = 0, i = 0;
    for (; i < s.reads && !s.Expired(i); i++) {
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
      leveldb::Slice key = t->key.Set(t->rand.Uniform(F.num));
      it->Seek(key);
      if (it->Valid() && it->key() == key) found++;
      for (int j = 0; it->Valid() && j < F.seek_nexts; j++) {
        bytes += it->key().size() + it->value().size();
        it->Next();
      }
      Check(it->status(), "iterator");
      t->stats.FinishedOps(1);
    }
    t->stats.bytes += bytes;
    t->stats.found = found;
    t->stats.reads = i;
  }

  void ReadWhileWriting(Thread* t, Spec& s) {
    if (t->tid > 0) return Read(t, s, false);
    leveldb::WriteOptions wo;
    wo.sync = s.sync;
    auto start = Clock::now();
    long n = 0;
    while (readers_done_.load() < s.threads - 1) {
      s.Pace(F.key_size + F.value_size);
      Check(db_->Put(wo, t->key.Set(t->rand.Uniform(F.num)), t->gen.Generate(F.value_size)), "put");
      n++;
      if (t->stats.report != nullptr) ++*t->stats.report;
    }
    s.writer_ops = n;
    s.writer_secs = std::chrono::duration<double>(Clock::now() - start).count();
    t->stats.Begin();  // do not count the writer
  }

  // Settle waits until the directory (names, sizes) and leveldb.stats have
  // not changed for one second: LevelDB has no "compactions done" call.
  void Settle() {
    auto snapshot = [this] {
      std::map<std::string, uintmax_t> files;
      for (const auto& e : std::filesystem::directory_iterator(F.db)) {
        std::error_code ec;
        files[e.path().filename().string()] = e.file_size(ec);
      }
      std::string s;
      for (const auto& [n, sz] : files) s += n + " " + std::to_string(sz) + "\n";
      std::string stats;
      db_->GetProperty("leveldb.stats", &stats);
      return s + stats;
    };
    std::string last = snapshot();
    auto since = Clock::now();
    while (Clock::now() - since < std::chrono::seconds(1)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::string now = snapshot();
      if (now != last) last = now, since = Clock::now();
    }
  }

  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  leveldb::DB* db_ = nullptr;
  long thread_count_ = 0;
  std::atomic<int> readers_done_{0};
};

}  // namespace

int main(int argc, char** argv) {
  ParseFlags(argc, argv);
  Bench().Run();
  return 0;
}
