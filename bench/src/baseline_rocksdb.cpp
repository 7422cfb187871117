#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "baselines.hpp"
#include "histogram.hpp"

namespace waybill::bench {

namespace {

std::string be(uint64_t v, int bytes) {
  std::string s(static_cast<size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

// Values that compress about as well as waybill's FlatBuffers records: field names and
// enums repeat, ids and times do not.
std::string value(size_t bytes, uint64_t salt) {
  static const char kText[] = "carrier=ups;status=in_transit;city=Louisville;country=US;raw=IT;";
  std::string v;
  v.reserve(bytes);
  uint64_t x = salt * 0x9e3779b97f4a7c15ULL + 1;
  while (v.size() < bytes) {
    if ((v.size() / 16) % 2 == 0) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      for (int i = 0; i < 8 && v.size() < bytes; ++i) v.push_back(static_cast<char>('0' + ((x >> (i * 4)) & 0x3f)));
    } else {
      v.push_back(kText[v.size() % (sizeof kText - 1)]);
    }
  }
  return v;
}

}  // namespace

BaselineResult run_rocksdb_baseline(const RocksBaselineOptions& opt) {
  BaselineResult out;
  std::error_code ec;
  std::filesystem::remove_all(opt.dir, ec);
  std::filesystem::create_directories(opt.dir, ec);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = opt.background_jobs;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(opt.block_cache_mb << 20);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  table.cache_index_and_filter_blocks = true;
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = opt.write_buffer_mb << 20;
  cf.compression = rocksdb::kLZ4Compression;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, cf}, {"shipments", cf}, {"milestones", cf}, {"events", cf}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, opt.dir, cfs, &handles, &raw);
  if (!s.ok()) {
    out.skipped = "open: " + s.ToString();
    return out;
  }
  std::unique_ptr<rocksdb::DB> db(raw);

  std::atomic<uint64_t> position{1}, committed{0};
  std::vector<uint32_t> next_index(opt.shipments, 0);  // per shipment, touched by one producer
  Histogram commit_ns;
  std::atomic<bool> failed{false};
  std::string failure;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(opt.duration_s * 1e6));
  auto producer = [&](int p) {
    uint64_t x = static_cast<uint64_t>(p) * 7919 + 1;
    // Each producer owns every producers-th shipment, so per-shipment indexes need no lock.
    std::vector<std::string> states, milestones, events;
    for (int i = 0; i < 16; ++i) {
      states.push_back(value(opt.state_bytes, x + i));
      milestones.push_back(value(opt.milestone_bytes, x + 100 + i));
      events.push_back(value(opt.event_bytes, x + 200 + i));
    }
    rocksdb::WriteOptions wo;
    wo.sync = opt.sync;
    while (std::chrono::steady_clock::now() < deadline && !failed) {
      rocksdb::WriteBatch wb;
      uint64_t pos = position.fetch_add(static_cast<uint64_t>(opt.batch));
      for (int i = 0; i < opt.batch; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t sh = static_cast<uint32_t>((x % (opt.shipments / opt.producers)) * opt.producers + p);
        char id[32];
        std::snprintf(id, sizeof id, "SH-B-%08u", sh);
        std::string sid(id);
        wb.Put(handles[1], sid, states[x % 16]);
        wb.Put(handles[2], sid + '\0' + be(next_index[sh]++, 4), milestones[(x >> 8) % 16]);
        wb.Put(handles[3], be(pos + static_cast<uint64_t>(i), 8), events[(x >> 16) % 16]);
      }
      auto t0 = std::chrono::steady_clock::now();
      auto st = db->Write(wo, &wb);
      commit_ns.record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()));
      if (!st.ok()) {
        failed = true;
        failure = st.ToString();
        return;
      }
      committed.fetch_add(static_cast<uint64_t>(opt.batch));
    }
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < std::max(1, opt.producers); ++p) threads.emplace_back(producer, p);
  for (auto& t : threads) t.join();
  out.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  db.reset();
  std::filesystem::remove_all(opt.dir, ec);
  if (failed) {
    out.skipped = "write failed: " + failure;
    return out;
  }
  out.ran = true;
  out.units = committed.load();
  out.rate = out.elapsed_s > 0 ? static_cast<double>(out.units) / out.elapsed_s : 0;
  out.mean_latency_ms = commit_ns.mean() / 1e6;
  out.p99_latency_ms = static_cast<double>(commit_ns.quantile(0.99)) / 1e6;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%d producers x WriteBatch of %d milestones (3 puts, %zu B), sync=%s, %llu commits",
                opt.producers, opt.batch, opt.state_bytes + opt.milestone_bytes + opt.event_bytes,
                opt.sync ? "true" : "false",
                static_cast<unsigned long long>(commit_ns.count()));
  out.detail = buf;
  return out;
}

uint64_t compacted_disk_usage(const std::string& dir, std::string* error) {
  std::vector<std::string> names;
  rocksdb::DBOptions db_options;
  auto s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (!s.ok()) {
    *error = s.ToString();
    return 0;
  }
  rocksdb::ColumnFamilyOptions cf;
  cf.compression = rocksdb::kLZ4Compression;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto& n : names) cfs.emplace_back(n, cf);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(db_options, dir, cfs, &handles, &raw);
  if (!s.ok()) {
    *error = s.ToString();
    return 0;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::FlushOptions fo;
  fo.wait = true;
  // A flush writes each memtable as LZ4 SST files, keeping only the newest version of each
  // key; a full compaction would shave a little more and cost a rewrite of everything.
  for (auto* h : handles) db->Flush(fo, h);
  db->FlushWAL(true);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  db->Close();
  db.reset();
  // Count table files only: obsolete WAL and info logs are not the data's footprint.
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".sst") total += std::filesystem::file_size(e.path(), ec);
  return total;
}

}  // namespace waybill::bench
