#include "waybill/storage/store.hpp"

#include <algorithm>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

namespace waybill {

const char* to_string(Code code) {
  switch (code) {
    case Code::ok: return "ok";
    case Code::invalid_argument: return "invalid_argument";
    case Code::not_found: return "not_found";
    case Code::conflict: return "conflict";
    case Code::idempotency_mismatch: return "idempotency_mismatch";
    case Code::in_flight: return "in_flight";
    case Code::payload_too_large: return "payload_too_large";
    case Code::unavailable: return "unavailable";
    case Code::overloaded: return "overloaded";
    case Code::forbidden: return "forbidden";
    case Code::internal: return "internal";
  }
  return "unknown";
}

}  // namespace waybill

namespace waybill::storage {

const char* column_name(Column c) {
  static const char* const names[kColumnCount] = {
      rocksdb::kDefaultColumnFamilyName.c_str(), "orders", "shipments", "milestones",
      "events", "idempotency", "tracking_index", "order_shipments", "work", "exceptions", "manifests", "subscriptions", "dead_letters", "timers",
      "tracking_poll", "event_index", "invoices", "billings", "disputes", "settlement_totals"};
  return names[static_cast<size_t>(c)];
}

namespace {
Status from_rocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return {};
  if (s.IsNotFound()) return {Code::not_found, what};
  return {Code::internal, std::string(what) + ": " + s.ToString()};
}
}  // namespace

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return Status{Code::internal, "cannot create data dir " + options.data_dir + ": " + ec.message()};

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = options.background_jobs;
  // Group commit happens in our single writer; RocksDB's own pipelining adds nothing.
  db_options.enable_pipelined_write = false;
  // Bounds the WAL a crash leaves to replay (restart-to-ready): past this size the
  // column families holding the oldest log are flushed.
  db_options.max_total_wal_size = options.max_wal_mb << 20;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_mb << 20);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  table.cache_index_and_filter_blocks = true;

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = options.write_buffer_mb << 20;
  cf_options.compression = rocksdb::kLZ4Compression;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kColumnCount; ++i)
    descriptors.emplace_back(column_name(static_cast<Column>(i)), cf_options);

  std::unique_ptr<Store> store(new Store());
  store->options_ = options;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, options.data_dir, descriptors, &store->handles_, &raw);
  if (!s.ok()) return Status{Code::internal, "open " + options.data_dir + ": " + s.ToString()};
  store->db_.reset(raw);
  return store;
}

Store::~Store() {
  if (!db_) return;
  // A clean stop leaves no WAL to replay: the next start is ready at once.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  (void)db_->Flush(fo, handles_);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  db_->Close();
}

Status Store::get(Column column, std::string_view key, std::string* value) const {
  return from_rocks(db_->Get(rocksdb::ReadOptions(), handle(column),
                             rocksdb::Slice(key.data(), key.size()), value),
                    "get");
}

Status Store::last_key(Column column, std::string* key) const {
  auto it = new_iterator(column);
  it->SeekToLast();
  if (!it->Valid()) {
    auto st = it->status();
    return st.ok() ? Status{Code::not_found, "empty column"} : from_rocks(st, "seek last");
  }
  key->assign(it->key().data(), it->key().size());
  return {};
}

Result<uint64_t> Store::last_event_position() const {
  uint64_t highest = 0;
  std::string key, mark;
  auto st = last_key(Column::events, &key);
  if (st.ok()) highest = read_be64(key);
  else if (st.code() != Code::not_found) return st;
  st = get(Column::meta, kEventHighWaterKey, &mark);
  if (st.ok()) highest = std::max(highest, read_be64(mark));
  else if (st.code() != Code::not_found) return st;
  return highest;
}

Status Store::write(const std::vector<WriteOp>& ops, bool sync) {
  rocksdb::WriteBatch wb;
  for (auto& op : ops) {
    if (op.erase) wb.Delete(handle(op.column), op.key);
    else wb.Put(handle(op.column), op.key, op.value);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return from_rocks(db_->Write(wo, &wb), "write");
}

uint64_t Store::disk_bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& entry : std::filesystem::recursive_directory_iterator(options_.data_dir, ec))
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  return total;
}

void Store::IteratorDeleter::operator()(rocksdb::Iterator* it) const { delete it; }

Store::IteratorPtr Store::new_iterator(Column column) const {
  return IteratorPtr(db_->NewIterator(rocksdb::ReadOptions(), handle(column)));
}

void Store::iterator_seek(rocksdb::Iterator* it, std::string_view target) {
  it->Seek(rocksdb::Slice(target.data(), target.size()));
}

bool Store::iterator_valid(rocksdb::Iterator* it, std::string_view* key, std::string_view* value) {
  if (!it->Valid()) return false;
  *key = std::string_view(it->key().data(), it->key().size());
  *value = std::string_view(it->value().data(), it->value().size());
  return true;
}

void Store::iterator_next(rocksdb::Iterator* it) { it->Next(); }

Status Store::iterator_status(rocksdb::Iterator* it) { return from_rocks(it->status(), "iterate"); }

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 3; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

uint64_t read_be64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

}  // namespace waybill::storage
