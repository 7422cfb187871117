#include "waybill/runtime/drop_folder.hpp"

#include <algorithm>
#include <chrono>
#include <future>

#include "file_io.hpp"
#include "waybill/actors/model.hpp"
#include "waybill/runtime/crypto.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::runtime {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr log::Logger kLog("intake");

// Entries looked at per source directory and scan: a flooded folder is worked through
// over several scans instead of one unbounded listing.
constexpr size_t kMaxListed = 10000;

bool ignored_name(const std::string& n) {
  auto ends = [&](std::string_view s) { return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0; };
  return n.empty() || n[0] == '.' || ends(".tmp") || ends(".part") || ends(".rejects.csv") || ends(".skipped.txt");
}

std::string report_csv(const std::vector<RowReject>& rejects) {
  std::string out;
  append_csv_row(&out, {"line", "order_id", "field", "reason"});
  for (auto& r : rejects) append_csv_row(&out, {std::to_string(r.line), r.order_id, r.field, r.reason});
  return out;
}

std::string field_of(const std::string& problem_body, const char* key) {
  std::string pattern = std::string("\"") + key + "\":\"";
  auto at = problem_body.find(pattern);
  if (at == std::string::npos) return {};
  at += pattern.size();
  return problem_body.substr(at, problem_body.find('"', at) - at);
}

}  // namespace

struct DropFolder::Candidate {
  const SourceProfile* profile;
  fs::path path;
  fs::file_time_type mtime;
};

// Answers of one file's orders, filled from the order actors' reply callbacks.
struct DropFolder::Answers {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::optional<actors::Reply>> replies;
  size_t outstanding = 0;
  uint64_t progress = 0;
};

DropFolder::DropFolder(Engine& engine, const std::vector<SourceProfile>& profiles, IntakeOptions options,
                       IntakeLimits limits, FileStats& stats)
    : engine_(engine), profiles_(profiles), options_(std::move(options)), limits_(limits), stats_(stats) {
  if (options_.drop_dir.empty()) options_.drop_dir = (fs::path(engine.store().options().data_dir) / "drop").string();
}

DropFolder::~DropFolder() { stop(); }

Status DropFolder::start() {
  for (auto& p : profiles_) {
    std::error_code ec;
    fs::create_directories(fs::path(options_.drop_dir) / p.source / "processed", ec);
    if (ec) return {Code::internal, "cannot create " + options_.drop_dir + "/" + p.source + ": " + ec.message(), "intake.drop_dir"};
  }
  if (!options_.watch || profiles_.empty()) return {};
  kLog.info("watching drop folders",
            {{"dir", options_.drop_dir}, {"sources", profiles_.size()}, {"poll_interval_ms", options_.poll_interval_ms}});
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      poll_once();
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms), [this] { return stopping_.load(); });
    }
  });
  return {};
}

void DropFolder::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<DropFolder::Candidate> DropFolder::candidates(size_t max) {
  std::vector<Candidate> out;
  auto settled_before = fs::file_time_type::clock::now() - std::chrono::milliseconds(options_.settle_ms);
  for (auto& p : profiles_) {
    std::error_code ec;
    size_t listed = 0;
    for (fs::directory_iterator it(fs::path(options_.drop_dir) / p.source, ec), end; !ec && it != end && listed < kMaxListed;
         it.increment(ec), ++listed) {
      if (!it->is_regular_file(ec) || ignored_name(it->path().filename().string())) continue;
      auto mtime = it->last_write_time(ec);
      if (ec || mtime > settled_before) continue;
      out.push_back({&p, it->path(), mtime});
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return std::tie(a.mtime, a.path) < std::tie(b.mtime, b.path); });
  if (out.size() > max) out.resize(max);
  return out;
}

size_t DropFolder::poll_once() {
  size_t handled = 0;
  for (auto& c : candidates(options_.max_files_per_tick)) {
    if (stopping_) break;
    switch (process(*c.profile, c.path)) {
      case Outcome::processed: stats_.files_processed.fetch_add(1); ++handled; break;
      case Outcome::skipped: stats_.files_skipped.fetch_add(1); ++handled; break;
      case Outcome::retry: stats_.files_retried.fetch_add(1); break;
    }
  }
  return handled;
}

DropFolder::Outcome DropFolder::process(const SourceProfile& profile, const fs::path& file) {
  const std::string name = file.filename().string();
  const fs::path processed = file.parent_path() / "processed";
  const std::string where = profile.source + "/" + name;
  // One correlation id per file: its log lines and every order it submits share it.
  const std::string correlation_id = log::new_correlation_id();
  const auto flog = kLog.with(correlation_id);
  auto text = fileio::read_file(file.string(), options_.max_file_bytes);
  if (!text && text.status().code() != Code::payload_too_large) {
    flog.warn("cannot read file; trying again later", {{"file", where}, {"error", text.status().message()}});
    return Outcome::retry;
  }
  std::string key;
  CsvMapping mapping;
  if (text) {
    key = "intake/file/" + profile.source + "/" + to_hex(sha256(*text));
    std::string record;
    auto seen = engine_.store().get(storage::Column::meta, key, &record);
    if (seen.ok()) return skip(file, record);
    if (seen.code() != Code::not_found) return Outcome::retry;
    mapping = map_csv_file(profile, *text, limits_, options_.max_rows);
  } else {
    // Too large to read: rejected whole and not recorded (nothing was hashed).
    mapping.rejects = {{0, "", "file", text.status().message() + " (intake.max_file_bytes); nothing was imported"}};
  }

  std::vector<actors::Reply> replies;
  if (!submit_all(mapping.orders, correlation_id, &replies)) {
    flog.warn("not every order was answered; the file stays for the next scan", {{"file", where}});
    return Outcome::retry;
  }
  const std::string& id_column = profile.field("order_id")->column;
  size_t accepted = 0, duplicate = 0;
  for (size_t i = 0; i < mapping.orders.size(); ++i) {
    auto& order = mapping.orders[i];
    auto& r = replies[i];
    if (r.status == 201) accepted += order.lines.size();
    else if (r.status == 200) duplicate += order.lines.size();
    if (r.status == 200 || r.status == 201) continue;
    std::string reason = r.status == 409 ? "order already exists with a different body; a file does not change it"
                                         : field_of(r.body, "detail");
    std::string id = order.command.order.order_id;
    for (size_t k = 0; k < order.lines.size(); ++k)
      mapping.rejects.push_back({order.lines[k], id, k == 0 ? id_column : "order_id",
                                 k == 0 ? reason : "order rejected because of line " + std::to_string(order.lines[0])});
  }
  std::stable_sort(mapping.rejects.begin(), mapping.rejects.end(), [](auto& a, auto& b) { return a.line < b.line; });

  // Report first, then the durable record, then the move: a crash in between leaves
  // the file in place and the next run rewrites the same report.
  std::string target = fileio::free_name(processed.string(), name);
  if (!mapping.rejects.empty()) {
    auto st = fileio::write_atomically((processed / (target + ".rejects.csv")).string(), report_csv(mapping.rejects));
    if (!st.ok()) {
      flog.error("cannot write the rejects report", {{"file", where}, {"error", st.message()}});
      return Outcome::retry;
    }
  }
  if (!key.empty()) {
    std::string record = "file=" + name + " processed=" + target + " at=" + format_rfc3339(now_us());
    if (auto st = record_done(key, record); !st.ok()) {
      flog.error("cannot record the file as done", {{"file", where}, {"error", st.message()}});
      return Outcome::retry;
    }
  }
  if (auto st = fileio::move_durably(file.string(), (processed / target).string()); !st.ok()) {
    flog.error("cannot move the file to processed/", {{"file", where}, {"error", st.message()}});
    return Outcome::retry;
  }
  stats_.rows_accepted.fetch_add(accepted);
  stats_.rows_duplicate.fetch_add(duplicate);
  stats_.rows_rejected.fetch_add(mapping.rejects.size());
  flog.info("file processed", {{"file", where},
                               {"rows", mapping.rows},
                               {"accepted", accepted},
                               {"duplicate", duplicate},
                               {"rejected", mapping.rejects.size()},
                               {"moved_to", "processed/" + target}});
  return Outcome::processed;
}

DropFolder::Outcome DropFolder::skip(const fs::path& file, const std::string& record) {
  const fs::path processed = file.parent_path() / "processed";
  std::string target = fileio::free_name(processed.string(), file.filename().string());
  std::string note = "skipped: same content as an earlier file (" + record + ")\n";
  auto st = fileio::write_atomically((processed / (target + ".skipped.txt")).string(), note);
  if (st.ok()) st = fileio::move_durably(file.string(), (processed / target).string());
  if (!st.ok()) {
    kLog.error("cannot move the file to processed/", {{"file", file.string()}, {"error", st.message()}});
    return Outcome::retry;
  }
  kLog.info("file skipped", {{"file", file.parent_path().filename().string() + "/" + file.filename().string()},
                             {"why", note.substr(0, note.size() - 1)},
                             {"moved_to", "processed/" + target}});
  return Outcome::skipped;
}

// Sends every order to its actor, at most max_in_flight at a time, and collects the
// answers. False when the file must be tried again: stop requested, an answer did not
// come in time, or an order met a transient failure (overload, storage unavailable).
bool DropFolder::submit_all(std::vector<MappedOrder>& orders, const std::string& correlation_id,
                            std::vector<actors::Reply>* replies) {
  auto answers = std::make_shared<Answers>();
  answers->replies.resize(orders.size());
  const auto timeout = std::chrono::milliseconds(options_.answer_timeout_ms);
  // Waits until `done` holds; false on stop or when no answer came for `timeout`.
  auto wait = [&](std::unique_lock<std::mutex>& lock, auto done) {
    auto deadline = Clock::now() + timeout;
    uint64_t seen = answers->progress;
    while (!done()) {
      if (stopping_) return false;
      if (answers->progress != seen) {
        seen = answers->progress;
        deadline = Clock::now() + timeout;
      }
      if (Clock::now() >= deadline) return false;
      answers->cv.wait_for(lock, std::chrono::milliseconds(100));
    }
    return true;
  };
  for (size_t i = 0; i < orders.size(); ++i) {
    {
      std::unique_lock lock(answers->mutex);
      if (!wait(lock, [&] { return answers->outstanding < options_.max_in_flight; })) return false;
      ++answers->outstanding;
    }
    auto req = std::make_shared<actors::OrderRequest>();
    std::string id = orders[i].command.order.order_id;
    req->command = orders[i].command;
    req->success_status = 201;
    req->correlation_id = correlation_id;
    req->reply = [answers, i](actors::Reply r) {
      std::lock_guard lock(answers->mutex);
      answers->replies[i] = std::move(r);
      --answers->outstanding;
      ++answers->progress;
      answers->cv.notify_all();
    };
    if (auto st = engine_.orders().send(id, caf::make_message(std::move(req))); !st.ok()) {
      std::lock_guard lock(answers->mutex);
      answers->replies[i] = actors::problem_reply(st);
      --answers->outstanding;
    }
  }
  std::unique_lock lock(answers->mutex);
  if (!wait(lock, [&] { return answers->outstanding == 0; })) return false;
  for (auto& r : answers->replies) {
    // Overload and storage trouble pass; the file is read again later and the orders
    // that did get in deduplicate then.
    if (r->status == 429 || r->status >= 500) return false;
    replies->push_back(*r);
  }
  return true;
}

Status DropFolder::record_done(const std::string& key, const std::string& value) {
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  auto req = std::make_unique<storage::WriteRequest>();
  req->ops.push_back({storage::Column::meta, key, value});
  req->on_commit = [done](const Status& st, uint64_t) { done->set_value(st); };
  if (auto st = engine_.writer().submit(std::move(req)); !st.ok()) return st;
  if (result.wait_for(std::chrono::milliseconds(options_.answer_timeout_ms)) != std::future_status::ready)
    return {Code::unavailable, "the storage writer did not confirm in time"};
  return result.get();
}

}  // namespace waybill::runtime
