// carrier-sim: plays several carriers at once over HTTP, each with its own request
// dialect, auth, latency, faults, business rules and tracking feed. It keeps a ledger of
// every label it sells so tests can prove no label was bought twice.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim_config.hpp"
#include "waybill/runtime/http_client.hpp"
#include "waybill/runtime/http_server.hpp"

namespace waybill::sim {

struct LabelRecord {
  std::string carrier;
  std::string reference;        // the shipper's reference (idempotency key of the booking)
  std::string tracking_number;
  std::string carrier_shipment_id;
  std::string service;
  int64_t sold_us = 0;
  bool voided = false;
  std::string request_id;  // X-Request-Id of the booking request, as the carrier saw it
};

/// Runs callbacks after a delay on its own thread (latency, held answers, feeds).
class Delayer {
 public:
  Delayer();
  ~Delayer();
  void after(int64_t delay_ms, std::function<void()> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class CarrierSim {
 public:
  CarrierSim(SimConfig config, runtime::HttpClient* webhook_client);
  ~CarrierSim();
  void handle(runtime::HttpRequest&& request, runtime::Responder respond);
  std::vector<LabelRecord> labels() const;

  struct CarrierState;

 private:
  void route(CarrierState& c, runtime::HttpRequest& req, std::vector<std::string_view>& parts,
             runtime::Responder& respond);
  void book(CarrierState& c, runtime::HttpRequest& req, runtime::Responder& respond);
  void rate(CarrierState& c, runtime::HttpRequest& req, runtime::Responder& respond);
  void lookup(CarrierState& c, const std::string& reference, runtime::Responder& respond);
  void void_label(CarrierState& c, const std::string& shipment_id, runtime::Responder& respond);
  void pickup(CarrierState& c, runtime::HttpRequest& req, runtime::Responder& respond);
  void track(CarrierState& c, const std::string& shipment_id, runtime::Responder& respond);
  void token(CarrierState& c, runtime::HttpRequest& req, runtime::Responder& respond);
  void start_feed(CarrierState& c, const std::vector<std::string>& tracking_numbers);
  bool is_voided(const std::string& carrier, const std::string& tracking_number) const;
  void push_event(const std::string& carrier, const std::string& body, const std::string& signature, int attempt);
  std::string webhook_api_key();
  int64_t latency_ms(CarrierState& c);
  double roll();

  SimConfig config_;
  runtime::HttpClient* webhook_client_;
  std::map<std::string, std::unique_ptr<CarrierState>> carriers_;
  mutable std::mutex mutex_;  // guards ledger, bookings, tokens and rng
  std::mt19937_64 rng_;
  std::vector<LabelRecord> ledger_;
  std::unordered_map<std::string, size_t> ledger_by_tracking_;  // carrier + '\0' + tracking number
  std::map<std::string, uint64_t> polls_;  // carrier + '\0' + carrier shipment id -> tracking requests
  std::string webhook_api_key_;  // from config_.webhook_api_key_file, once read
  Delayer delayer_;
};

}  // namespace waybill::sim
