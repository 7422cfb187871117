// RocksDB behind a small interface: one column family per kind of record.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/status.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
}  // namespace rocksdb

namespace waybill::storage {

/// Kinds of records, each in its own column family.
enum class Column : uint8_t {
  meta = 0,          // store-wide metadata (schema version)
  orders,            // order_id -> fb::Order
  shipments,         // shipment_id -> fb::Shipment (header, no milestones)
  milestones,        // shipment_id \0 be32(index) -> fb::Milestone
  events,            // be64(global position) -> fb::Event (the outbox)
  idempotency,       // scope \0 key -> IdempotencyRecord
  tracking_index,    // carrier \0 tracking_number -> shipment_id
  order_shipments,   // order_id \0 shipment_id -> "" (derived link, insert-only)
  work,              // outstanding work to resume after a restart: "o/"+order_id, "b/"+shipment_id
  exceptions,        // shipment_id -> exception queue entry (present while in the queue)
  manifests,         // carrier \0 yyyy-mm-dd \0 shipment_id -> tracking numbers (end-of-day manifest)
  subscriptions,     // "s/"+id -> webhook subscription; "c/"+id -> be64(delivered position)
  dead_letters,      // id \0 be64(position) -> why delivery gave up
  timers,            // be64(due_us) kind shipment_id -> "" (durable SLA deadlines)
  tracking_poll,     // carrier \0 shipment_id -> "" (active shipments of polled carriers)
  event_index,       // order_id \0 be64(position) -> "" (an order's and its shipments' events)
  invoices,          // carrier \0 invoice_number -> fb::Invoice (lines with outcomes)
  billings,          // shipment_id -> "<invoice_id>#<line>" that billed it first
  disputes,          // carrier \0 invoice_number \0 be32(line) -> fb::FreightPosting (queue + history)
  settlement_totals, // "c" carrier \0 currency | "l" carrier \0 lane \0 currency -> fb::SettlementTotals
};
inline constexpr size_t kColumnCount = 20;
const char* column_name(Column c);

/// Column::meta key of the highest outbox position this store ever issued, as be64,
/// when events at the end of the outbox were moved away (waybill-rebalance): the
/// writer never issues a position at or below it again, so a consumer's cursor never
/// skips a new event. Absent: the last key of Column::events is the highest.
inline constexpr const char* kEventHighWaterKey = "events/high_water";

/// One put or delete of a write batch.
struct WriteOp {
  Column column;
  std::string key;
  std::string value;
  bool erase = false;
};

struct StoreOptions {
  /// Directory of the RocksDB database; created if missing. Default: "data".
  std::string data_dir = "data";
  /// LRU block cache shared by all column families, in MiB. Default: 256.
  size_t block_cache_mb = 256;
  /// Memtable size per column family, in MiB. Default: 64.
  size_t write_buffer_mb = 64;
  /// Background compaction/flush threads. Default: 2.
  int background_jobs = 2;
  /// Most write-ahead log kept before memtables are flushed, in MiB; bounds the replay
  /// after a crash. Default: 256.
  size_t max_wal_mb = 256;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// Point read. not_found when absent.
  Status get(Column column, std::string_view key, std::string* value) const;
  /// Calls `fn(key, value)` for keys starting with `prefix`, in key order, at most
  /// `limit` times; `fn` returns false to stop early.
  template <class Fn>
  Status scan_prefix(Column column, std::string_view prefix, size_t limit, Fn&& fn) const;
  /// Calls `fn(key, value)` for keys >= `start`, in key order, at most `limit` times;
  /// `fn` returns false to stop early.
  template <class Fn>
  Status scan_from(Column column, std::string_view start, size_t limit, Fn&& fn) const;
  /// Last key of a column (e.g. the highest event position) without a full scan.
  Status last_key(Column column, std::string* key) const;
  /// Highest outbox position issued so far: the last key of Column::events or the
  /// recorded high water (kEventHighWaterKey), whichever is greater; 0 when none.
  Result<uint64_t> last_event_position() const;
  /// Commits `ops` as ONE WriteBatch, fsyncing the WAL when `sync`. Outside the group
  /// commit: for start-up records written before a writer exists and for offline tools
  /// (waybill-rebalance); never while a GroupCommitWriter serves the entities.
  Status write(const std::vector<WriteOp>& ops, bool sync);

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* handle(Column column) const {
    return handles_[static_cast<size_t>(column)];
  }
  const StoreOptions& options() const { return options_; }
  /// Total size of SST and WAL files in bytes (for bench and metrics).
  uint64_t disk_bytes() const;

 private:
  Store() = default;
  struct IteratorDeleter {
    void operator()(rocksdb::Iterator* it) const;
  };
  using IteratorPtr = std::unique_ptr<rocksdb::Iterator, IteratorDeleter>;
  IteratorPtr new_iterator(Column column) const;
  static void iterator_seek(rocksdb::Iterator* it, std::string_view target);
  static bool iterator_valid(rocksdb::Iterator* it, std::string_view* key,
                             std::string_view* value);
  static void iterator_next(rocksdb::Iterator* it);
  static Status iterator_status(rocksdb::Iterator* it);

  StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

template <class Fn>
Status Store::scan_prefix(Column column, std::string_view prefix, size_t limit,
                          Fn&& fn) const {
  auto it = new_iterator(column);
  std::string_view key, value;
  size_t seen = 0;
  iterator_seek(it.get(), prefix);
  for (; seen < limit && iterator_valid(it.get(), &key, &value); iterator_next(it.get())) {
    if (key.substr(0, prefix.size()) != prefix) break;
    ++seen;
    if (!fn(key, value)) break;
  }
  return iterator_status(it.get());
}

template <class Fn>
Status Store::scan_from(Column column, std::string_view start, size_t limit, Fn&& fn) const {
  auto it = new_iterator(column);
  std::string_view key, value;
  size_t seen = 0;
  iterator_seek(it.get(), start);
  for (; seen < limit && iterator_valid(it.get(), &key, &value); iterator_next(it.get())) {
    ++seen;
    if (!fn(key, value)) break;
  }
  return iterator_status(it.get());
}

/// Big-endian fixed-width encodings keep numeric keys sorted bytewise.
std::string be64(uint64_t v);
std::string be32(uint32_t v);
uint64_t read_be64(std::string_view s);

}  // namespace waybill::storage
