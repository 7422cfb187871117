// Load drivers. Both take requests from a Source (thread-safe, usually an atomic cursor
// over the workload) and keep a fixed number of them in flight until the source runs
// dry or the time is up:
//   * HTTP: keep-alive connections on Boost.Beast async sockets, one request in flight
//     per connection;
//   * in-process: runtime::Api::handle called directly on an Engine in this process,
//     no sockets, so comparing the two shows what HTTP costs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>

#include "histogram.hpp"

namespace waybill::bench {

struct Work {
  std::string method = "POST";
  std::string target;
  std::string body;
  bool ndjson = false;
  uint32_t units = 1;       // milestones (or entities) this request carries
  bool tracking = false;    // body answers with tracking outcomes
};

/// Fills `out` with the next request; false when there is no more work. Called from
/// many threads at once.
using Source = std::function<bool(Work& out)>;

struct DriveOptions {
  /// Requests in flight (HTTP: keep-alive connections). Default: 64.
  int concurrency = 64;
  /// Client threads (HTTP: io_context threads; in-process: feeder threads). Default: 2.
  int threads = 2;
  /// Stop handing out new requests after this many seconds (0: until the source is dry).
  double duration_s = 20;
};

/// Thread-safe tallies of one driver run.
struct DriveResult {
  Histogram latency;                     // per request, ns
  std::atomic<uint64_t> requests{0};     // answered (any status)
  std::atomic<uint64_t> units{0};        // units answered 2xx (tracking: lines accepted)
  std::atomic<uint64_t> http_errors{0};  // answered, not 2xx
  std::atomic<uint64_t> transport_errors{0};
  std::atomic<uint64_t> applied{0}, late{0}, duplicate{0}, rejected{0};
  double elapsed_s = 0;  // first request sent to last answer received
  bool source_dry = false;  // ended because the workload ran out, not the clock

  std::mutex mutex;
  std::map<int, uint64_t> statuses;  // HTTP status -> count
  std::string first_error;           // first non-2xx body or transport error
  std::string first_rejection;       // first rejected tracking line of a 2xx answer

  void note_status(int status, std::string_view body);
  /// Counts applied/late/duplicate/rejected from a tracking answer (single or NDJSON) and
  /// returns the lines accepted (applied + late + duplicate).
  uint64_t tally_tracking(std::string_view body);
  /// Records the outcome of one answered request.
  void on_answer(const Work& work, int status, std::string_view body);
  double rate() const { return elapsed_s > 0 ? static_cast<double>(units.load()) / elapsed_s : 0; }
  /// Failed requests plus rejected tracking lines.
  double errors() const {
    return static_cast<double>(http_errors.load() + transport_errors.load() + rejected.load());
  }
};

struct HttpEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

void drive_http(const HttpEndpoint& endpoint, const DriveOptions& options, const Source& source,
                DriveResult& result);

}  // namespace waybill::bench
