// Runs the real carrier-sim binary as a child process for integration tests, plus the
// pieces carrier tests share: the sim's label ledger, carrier profiles pointed at the
// running sim, and order bodies.
//
// Each SimProcess owns a fresh directory under /tmp (mkdtemp) holding its YAML config
// and one log file. The sim either binds port 0 itself (the port is read back from its
// "ready on http://HOST:PORT" line) or a port the test reserved beforehand with
// PortReservation: waybilld's carrier profiles must name the sim's port, and the sim
// must name waybilld's port as its webhook target, so one of the two has to be known
// before the other starts. start() waits, bounded, until GET /healthz answers 200.
//
// On destruction the child is killed; if the current test failed, the log is printed
// and the directory is kept for inspection, otherwise it is removed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "http_client.hpp"
#include "server_process.hpp"
#include "test_keys.hpp"

namespace waybill::itest {

/// Path of the carrier-sim binary the tests were built against (CARRIER_SIM_PATH),
/// unless the environment variable CARRIER_SIM overrides it.
std::string carrier_sim_path();

/// Root of the source tree (WAYBILL_SOURCE_DIR), for the shipped configs.
std::string source_dir();

/// A loopback TCP port held by a bound, non-listening socket with SO_REUSEADDR, so that
/// no other process gets it from the kernel while a child that also sets SO_REUSEADDR
/// (as carrier-sim and waybilld do) can still bind and listen on it.
class PortReservation {
 public:
  PortReservation();
  ~PortReservation();
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;
  uint16_t port() const { return port_; }
  bool ok() const { return fd_ >= 0 && port_ != 0; }
  void release();

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// One label carrier-sim sold (GET /labels).
struct SimLabel {
  std::string carrier, reference, tracking_number, carrier_shipment_id, service;
  bool voided = false;
  std::string request_id;  // X-Request-Id of the booking request that sold it
};

/// The sim's ledger, indexed for the checks carrier tests make.
struct LabelLedger {
  std::vector<SimLabel> labels;

  size_t voided_count() const;
  /// Non-voided labels sold under `reference`.
  std::vector<SimLabel> live(const std::string& reference) const;
  /// Distinct carrier bookings (carrier + carrier_shipment_id) sold under `reference`,
  /// voided ones included when `include_voided`.
  std::set<std::string> bookings(const std::string& reference, bool include_voided) const;
  /// Sorted tracking numbers of the non-voided labels of `reference`.
  std::vector<std::string> live_tracking_numbers(const std::string& reference) const;
  /// References with more than one non-voided carrier booking, each with its bookings.
  std::map<std::string, std::set<std::string>> duplicates() const;
  std::set<std::string> references() const;
};

class SimProcess {
 public:
  struct Options {
    std::string binary = carrier_sim_path();
    /// Written to <dir>/carrier-sim.yaml and passed with --config.
    std::string config_yaml;
    /// --webhook-target (waybilld's base URL); empty keeps the config's.
    std::string webhook_target;
    /// Port to listen on; 0 lets the sim choose (read back from its ready line).
    uint16_t port = 0;
    /// waybill API key sent with the sim's webhooks (through a file and
    /// --webhook-api-key-file); empty sends none.
    std::string webhook_api_key = kCarrierWebhookKey;
    std::chrono::milliseconds ready_timeout{15000};
  };

  explicit SimProcess(Options options);
  ~SimProcess();
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  ::testing::AssertionResult start();
  void kill();
  ExitStatus terminate(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  /// "HOST:PORT" of the running sim.
  std::string authority() const;
  std::string base_url() const;
  const std::string& dir() const { return dir_; }
  std::string log() const;
  void print_log(std::ostream& out) const;

  /// GET /labels; nullopt (and a test failure) when the sim does not answer.
  std::optional<LabelLedger> labels() const;

 private:
  Options options_;
  std::string dir_, config_path_, log_path_;
  pid_t pid_ = -1;
  std::string host_;
  uint16_t port_ = 0;
};

// ---- carrier configuration shared by the carrier tests ---------------------------

/// A YAML file of the source tree, e.g. "configs/carrier-sim.yaml".
YAML::Node load_source_yaml(const std::string& relative_path);

/// configs/carrier-sim.yaml without faults, rejections or tracking pushes, with a fixed
/// latency of `latency_ms`: bookings succeed on the first try and milestones come from
/// the test alone.
YAML::Node quiet_sim_config(int latency_ms = 5);

/// The carrier entry named `name` of a sim config's `carriers` list (a reference into it).
YAML::Node sim_carrier(YAML::Node& sim_config, const std::string& name);

/// `url` ("http://HOST:PORT/path") with HOST:PORT replaced by `authority`.
std::string with_authority(const std::string& url, const std::string& authority);

/// Writes `profile` to <dir>/<file_name>, with its base_url pointed at `sim_authority`.
void write_profile(const std::string& dir, const std::string& file_name, YAML::Node profile,
                   const std::string& sim_authority);

/// A fresh directory under /tmp, removed with the object unless the test failed.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "waybill-carriers");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// YAML text of a mapping, for config files.
std::string to_yaml(const YAML::Node& node);

/// waybilld and carrier-sim wired to each other: the profiles in `profiles` are written
/// to a temporary carriers dir with base_url pointing at the sim, waybilld starts with
/// booking.carriers_dir there, and the sim starts on a port reserved before waybilld
/// started, with waybilld as its webhook target.
class CarrierStack {
 public:
  struct Options {
    YAML::Node sim_config;
    std::vector<YAML::Node> profiles;  // each written as <name>.yaml
    std::string waybill_extra_yaml;    // appended to waybilld's config (no booking: or log: section)
    std::string log_level = "info";    // waybilld's log.level
  };
  explicit CarrierStack(Options options);
  ~CarrierStack();

  ::testing::AssertionResult start();
  ServerProcess& waybill() { return *waybill_; }
  SimProcess& sim() { return *sim_; }
  const std::string& profiles_dir() const { return profiles_.path(); }
  /// Replaces the extra config of waybilld for its next (re)start.
  void set_waybill_extra_yaml(const std::string& extra_yaml);

 private:
  std::string waybill_config(const std::string& extra) const;

  Options options_;
  TempDir profiles_;
  PortReservation sim_port_;
  std::unique_ptr<ServerProcess> waybill_;
  std::unique_ptr<SimProcess> sim_;
};

/// "YYYY-MM-DD" of today plus `days`, UTC (invoices arrive days after shipping).
std::string date_in_days(int days = 0);

// ---- orders ------------------------------------------------------------------------

struct OrderSpec {
  std::string order_id;
  std::string service_level = "ground";
  std::string postal_code = "62701";
  std::string country = "US";
  std::string city = "Springfield";
  int packages = 1;
  double weight_kg = 1.5;
};

/// POST /v1/orders body for `spec` (packages carried in the order).
std::string order_body(const OrderSpec& spec);

/// Outcome of waiting for a booking: the last shipment answer and its booking state.
struct BookingView {
  int http_status = 0;
  std::string state;  // booking.state, empty when the shipment is not there (yet)
  std::string body;
  /// "HTTP <status> <body>", for assertion messages.
  std::string describe() const { return "HTTP " + std::to_string(http_status) + " " + body; }
};

/// Creates, releases and packs an order; 429 and 503 answers are retried (bounded).
::testing::AssertionResult create_release_pack(HttpClient& client, const OrderSpec& spec);

/// create_release_pack for every spec from `threads` clients in parallel; returns the
/// failures (empty when every order was packed).
std::vector<std::string> submit_orders(const std::string& host, uint16_t port, const std::vector<OrderSpec>& specs,
                                       int threads = 4);

/// GET /v1/shipments/{id} reduced to its booking state.
BookingView read_booking(HttpClient& client, const std::string& shipment_id);

/// Polls until every shipment's booking is settled or `timeout` passes; returns the
/// last view of each.
std::map<std::string, BookingView> wait_for_bookings(const std::string& host, uint16_t port,
                                                     const std::vector<std::string>& shipment_ids,
                                                     std::chrono::milliseconds timeout);

struct ExceptionEntry {
  std::string carrier, service, reason, message, carrier_code;
};
/// GET /v1/exceptions?limit=1000 by shipment id; nullopt (and a failure) on a bad answer.
std::optional<std::map<std::string, ExceptionEntry>> list_exceptions(HttpClient& client);

/// Booking states a shipment stays in until someone acts.
inline bool booking_settled(const std::string& state) {
  return state == "booked" || state == "rejected" || state == "voided";
}

/// Phase of a tracking status (see shipment_logic.hpp); -1 when unknown.
int tracking_phase(const std::string& status);

/// A value of a Prometheus sample in `metrics_text`, e.g.
/// metric_value(text, "waybill_bookings_total{outcome=\"resolved_by_lookup\"}").
std::optional<double> metric_value(const std::string& metrics_text, const std::string& sample);

}  // namespace waybill::itest
