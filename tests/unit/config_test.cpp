// YAML configuration: defaults, overrides, and errors that name the offending key.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "waybill/runtime/config.hpp"

namespace waybill::runtime {
namespace {

void expect_error(const Result<Config>& r, const std::string& field, const std::string& reason_part = "") {
  ASSERT_FALSE(r.ok()) << "expected an error naming " << field;
  EXPECT_EQ(r.status().code(), Code::invalid_argument);
  EXPECT_EQ(r.status().field(), field) << r.status().message();
  if (!reason_part.empty()) {
    EXPECT_NE(r.status().message().find(reason_part), std::string::npos) << r.status().message();
  }
}

TEST(Config, EmptyTextGivesDefaults) {
  for (const char* text : {"", "# only a comment\n", "~"}) {
    SCOPED_TRACE(text);
    auto r = parse_config(text);
    ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
    const Config& c = *r;
    EXPECT_EQ(c.http.host, "127.0.0.1");
    EXPECT_EQ(c.http.port, 8080);
    EXPECT_EQ(c.http.threads, 2);
    EXPECT_EQ(c.http.max_body_bytes, 8u << 20);
    EXPECT_EQ(c.engine.store.data_dir, "data");
    EXPECT_TRUE(c.engine.writer.sync);
    EXPECT_EQ(c.engine.writer.queue_capacity, 65000u);
    EXPECT_EQ(c.engine.writer.max_batch_requests, 4096u);
    EXPECT_EQ(c.engine.orders.max_resident, 100000u);
    EXPECT_EQ(c.engine.shipments.max_resident, 500000u);
    EXPECT_EQ(c.engine.orders.idle_timeout_ms, 60000);
    EXPECT_EQ(c.engine.scheduler_policy, "sharing");
    EXPECT_EQ(c.api.max_ndjson_lines, 10000u);
    EXPECT_EQ(c.api.limits.max_depth, 32u);
    EXPECT_EQ(c.log_level, "info");
  }
}

TEST(Config, OverridesApply) {
  auto r = parse_config(R"(
listen: 0.0.0.0:9090
data_dir: /var/lib/waybill
log:
  level: debug
http:
  threads: 8
  max_body_bytes: 1048576
  read_timeout_ms: 5000
  max_ndjson_lines: 500
  retry_after_s: 3
storage:
  sync: false
  queue_capacity: 1000
  max_batch_requests: 64
  block_cache_mb: 32
actors:
  max_resident_orders: 10
  max_resident_shipments: 20
  idle_timeout_ms: 1234
  scheduler_threads: 3
  scheduler_policy: stealing
  sweep_interval_ms: 250
limits:
  max_depth: 8
  max_lines: 50
  max_string_bytes: 100
)");
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  const Config& c = *r;
  EXPECT_EQ(c.http.host, "0.0.0.0");
  EXPECT_EQ(c.http.port, 9090);
  EXPECT_EQ(c.engine.store.data_dir, "/var/lib/waybill");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.http.threads, 8);
  EXPECT_EQ(c.http.max_body_bytes, 1048576u);
  EXPECT_EQ(c.http.read_timeout_ms, 5000);
  EXPECT_EQ(c.api.max_ndjson_lines, 500u);
  EXPECT_EQ(c.api.retry_after_s, 3);
  EXPECT_FALSE(c.engine.writer.sync);
  EXPECT_EQ(c.engine.writer.queue_capacity, 1000u);
  EXPECT_EQ(c.engine.writer.max_batch_requests, 64u);
  EXPECT_EQ(c.engine.store.block_cache_mb, 32u);
  EXPECT_EQ(c.engine.orders.max_resident, 10u);
  EXPECT_EQ(c.engine.shipments.max_resident, 20u);
  EXPECT_EQ(c.engine.orders.idle_timeout_ms, 1234);  // one idle timeout for both kinds
  EXPECT_EQ(c.engine.shipments.idle_timeout_ms, 1234);
  EXPECT_EQ(c.engine.scheduler_threads, 3);
  EXPECT_EQ(c.engine.scheduler_policy, "stealing");
  EXPECT_EQ(c.engine.sweep_interval_ms, 250);
  EXPECT_EQ(c.api.limits.max_depth, 8u);
  EXPECT_EQ(c.api.limits.max_lines, 50u);
  EXPECT_EQ(c.api.limits.max_string_bytes, 100u);
  // Untouched keys keep their defaults.
  EXPECT_EQ(c.http.idle_timeout_ms, 60000);
  EXPECT_EQ(c.api.limits.max_packages, 100u);
}

TEST(Config, UnknownKeysAreNamed) {
  expect_error(parse_config("colour: red\n"), "colour", "unknown");
  expect_error(parse_config("http:\n  threadz: 4\n"), "http.threadz", "unknown");
  expect_error(parse_config("storage:\n  sync: true\n  fsync: true\n"), "storage.fsync", "unknown");
  expect_error(parse_config("limits:\n  max_depth: 4\n  nested:\n    x: 1\n"), "limits.nested", "unknown");
  // A leaf key is not a section.
  expect_error(parse_config("data_dir:\n  path: /x\n"), "data_dir", "scalar");
}

TEST(Config, WrongTypesAreNamed) {
  expect_error(parse_config("http:\n  threads: abc\n"), "http.threads", "wrong type");
  expect_error(parse_config("http:\n  threads: 1.5\n"), "http.threads", "wrong type");
  expect_error(parse_config("storage:\n  sync: maybe\n"), "storage.sync", "wrong type");
  expect_error(parse_config("storage:\n  queue_capacity: -1\n"), "storage.queue_capacity", "wrong type");
  expect_error(parse_config("actors:\n  max_resident_orders: [1, 2]\n"), "actors.max_resident_orders", "scalar");
  expect_error(parse_config("http: 4\n"), "http", "mapping");
  expect_error(parse_config("- a\n- b\n"), "config", "mapping");
}

TEST(Config, RangeChecksAreNamed) {
  expect_error(parse_config("http:\n  threads: 0\n"), "http.threads", "at least 1");
  expect_error(parse_config("http:\n  read_timeout_ms: 99\n"), "http.read_timeout_ms", "at least 100");
  expect_error(parse_config("storage:\n  queue_capacity: 0\n"), "storage.queue_capacity", "at least 1");
  expect_error(parse_config("storage:\n  queue_capacity: 65001\n"), "storage.queue_capacity", "65000");
  EXPECT_TRUE(parse_config("storage:\n  queue_capacity: 65000\n").ok());
  expect_error(parse_config("limits:\n  max_depth: 1\n"), "limits.max_depth", "at least 2");
  expect_error(parse_config("actors:\n  scheduler_policy: random\n"), "actors.scheduler_policy");
  expect_error(parse_config("log:\n  level: verbose\n"), "log.level");
  expect_error(parse_config("actors:\n  sweep_interval_ms: 5\n"), "actors.sweep_interval_ms", "at least 10");
}

TEST(Config, InvalidYaml) {
  expect_error(parse_config("http: [unclosed\n"), "config", "invalid YAML");
  expect_error(parse_config("a: b: c\n"), "config", "invalid YAML");
}

TEST(Config, BadListen) {
  expect_error(parse_config("listen: localhost\n"), "listen", "HOST:PORT");
  expect_error(parse_config("listen: ':8080'\n"), "listen", "HOST:PORT");
  expect_error(parse_config("listen: 'host:http'\n"), "listen", "number");
  expect_error(parse_config("listen: 'host:80x'\n"), "listen", "number");
  expect_error(parse_config("listen: 'host:'\n"), "listen", "number");
  expect_error(parse_config("listen: 'host:65536'\n"), "listen", "0..65535");
  expect_error(parse_config("listen: 'host:-1'\n"), "listen", "0..65535");
}

TEST(Config, ApplyListen) {
  HttpServerOptions http;
  EXPECT_TRUE(apply_listen("10.1.2.3:0", &http).ok());
  EXPECT_EQ(http.host, "10.1.2.3");
  EXPECT_EQ(http.port, 0);
  EXPECT_TRUE(apply_listen("[::1]:65535", &http).ok());
  EXPECT_EQ(http.host, "[::1]");
  EXPECT_EQ(http.port, 65535);

  HttpServerOptions untouched;
  untouched.host = "keep";
  untouched.port = 1;
  for (const char* bad : {"", "nocolon", ":80", "h:", "h:abc", "h:70000", "h:8080 "}) {
    auto st = apply_listen(bad, &untouched);
    EXPECT_EQ(st.code(), Code::invalid_argument) << bad;
    EXPECT_EQ(st.field(), "listen") << bad;
  }
  EXPECT_EQ(untouched.host, "keep");
  EXPECT_EQ(untouched.port, 1);
}

TEST(Config, LoadConfigFromFile) {
  auto path = std::filesystem::path(testing::TempDir()) / ("waybill_config_test_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << "listen: 127.0.0.1:7000\nstorage:\n  sync: false\n";
  }
  auto r = load_config(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->http.port, 7000);
  EXPECT_FALSE(r->engine.writer.sync);

  auto missing = load_config((std::filesystem::path(testing::TempDir()) / "no/such/waybill.yaml").string());
  expect_error(missing, "config", "cannot read");
}

// The documented config is the real one: every key in it parses, with the SLA and
// tracking sections carrying what the comments claim.
TEST(Config, ShippedConfigParses) {
  auto r = load_config(std::string(WAYBILL_SOURCE_DIR) + "/configs/waybilld.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->engine.sla.deadlines.no_pickup_after_s, 86400);
  EXPECT_EQ(r->engine.sla.deadlines.stale_after_s, 259200);
  EXPECT_EQ(r->api.tracking.recycle_window_days, 180);
}

TEST(Config, OwnersMustBeKnownSources) {
  expect_error(parse_config("ownership:\n  owners:\n    packages: wcs\n"), "ownership.owners.packages", "not in");
  expect_error(parse_config("ownership:\n  sources: [erp, carrier]\n"), "ownership.sources", "reserved");
  expect_error(parse_config("ownership:\n  sources: erp\n"), "ownership.sources", "list");
  auto ok = parse_config("ownership:\n  sources: [erp, wms, wcs]\n  owners:\n    packages: wcs\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->api.ownership.owners.at("packages"), "wcs");
  EXPECT_EQ(ok->api.ownership.sources.size(), 3u);
}

TEST(Config, SlaKeysAreBoundedAndNamed) {
  auto r = parse_config("sla:\n  stale_after_s: 0\n");
  expect_error(r, "sla.stale_after_s", "");
  auto ok = parse_config("sla:\n  enabled: false\n  no_pickup_after_s: 5\ntracking:\n  pre_ship_days: 0\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_FALSE(ok->engine.sla.deadlines.enabled);
  EXPECT_EQ(ok->engine.sla.deadlines.no_pickup_after_s, 5);
  EXPECT_EQ(ok->api.tracking.pre_ship_days, 0);
}

TEST(Config, FlatFileKeys) {
  auto d = parse_config("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->api.intake.sources_dir, "configs/sources");
  EXPECT_TRUE(d->api.intake.watch);
  EXPECT_EQ(d->api.intake.drop_dir, "");
  EXPECT_EQ(d->api.intake.max_rows, 100000u);
  EXPECT_EQ(d->api.exports.at_utc, "02:00");
  EXPECT_TRUE(d->api.exports.nightly);
  auto r = parse_config(R"(
intake:
  sources_dir: /etc/waybill/sources
  watch: false
  drop_dir: /srv/drop
  poll_interval_ms: 250
  settle_ms: 0
  max_file_bytes: 2048
  max_rows: 10
  max_files_per_tick: 2
  max_in_flight: 8
  answer_timeout_ms: 5000
export:
  nightly: false
  dir: /srv/exports
  at_utc: "23:30"
  max_catch_up_days: 3
  check_interval_ms: 1000
)");
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  EXPECT_EQ(r->api.intake.sources_dir, "/etc/waybill/sources");
  EXPECT_FALSE(r->api.intake.watch);
  EXPECT_EQ(r->api.intake.drop_dir, "/srv/drop");
  EXPECT_EQ(r->api.intake.poll_interval_ms, 250);
  EXPECT_EQ(r->api.intake.settle_ms, 0);
  EXPECT_EQ(r->api.intake.max_file_bytes, 2048u);
  EXPECT_EQ(r->api.intake.max_rows, 10u);
  EXPECT_EQ(r->api.intake.max_files_per_tick, 2u);
  EXPECT_EQ(r->api.intake.max_in_flight, 8u);
  EXPECT_EQ(r->api.intake.answer_timeout_ms, 5000);
  EXPECT_FALSE(r->api.exports.nightly);
  EXPECT_EQ(r->api.exports.dir, "/srv/exports");
  EXPECT_EQ(r->api.exports.at_utc, "23:30");
  EXPECT_EQ(r->api.exports.max_catch_up_days, 3);
  EXPECT_EQ(r->api.exports.check_interval_ms, 1000);
  expect_error(parse_config("intake:\n  drop_folder: x\n"), "intake.drop_folder", "unknown");
  expect_error(parse_config("export:\n  at_utc: \"2am\"\n"), "export.at_utc", "HH:MM");
  expect_error(parse_config("intake:\n  max_rows: 0\n"), "intake.max_rows", "at least");
}

TEST(Config, ShippedConfigIsTheDefaults) {
  auto r = load_config(std::string(WAYBILL_SOURCE_DIR) + "/configs/waybilld.yaml");
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  auto d = parse_config("");
  EXPECT_EQ(r->api.intake.max_file_bytes, d->api.intake.max_file_bytes);
  EXPECT_EQ(r->api.intake.settle_ms, d->api.intake.settle_ms);
  EXPECT_EQ(r->api.exports.at_utc, d->api.exports.at_utc);
  EXPECT_EQ(r->api.exports.max_catch_up_days, d->api.exports.max_catch_up_days);
}

// Crash points are off unless named, and a negative count is refused naming the key.
TEST(Config, FaultInjectionKeys) {
  auto d = parse_config("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->engine.crash_after_commits, 0);
  EXPECT_EQ(d->api.webhooks.crash_after_deliveries, 0);
  EXPECT_EQ(d->engine.booking.crash_after_booking_answers, 0);
  auto on = parse_config("fault_injection:\n  crash_after_commits: 7\n  crash_after_webhook_deliveries: 3\n");
  ASSERT_TRUE(on.ok()) << on.status().message();
  EXPECT_EQ(on->engine.crash_after_commits, 7);
  EXPECT_EQ(on->api.webhooks.crash_after_deliveries, 3);
  expect_error(parse_config("fault_injection:\n  crash_after_commits: -1\n"), "fault_injection.crash_after_commits",
               "at least");
}

}  // namespace
}  // namespace waybill::runtime

namespace waybill::runtime {
namespace {

// Tolerances read exactly (percent to basis points); charge rules replace the built-in
// rule of the same carrier and code and are added otherwise; mistakes name the key.
TEST(Config, SettlementTolerancesAndChargeRules) {
  auto shipped = load_config(std::string(WAYBILL_SOURCE_DIR) + "/configs/waybilld.yaml");
  ASSERT_TRUE(shipped.ok()) << shipped.status().field() << ": " << shipped.status().message();
  auto d = parse_config("");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(shipped->engine.settlement.tolerances.size(), 1u);
  EXPECT_EQ(shipped->engine.settlement.tolerances[0].percent_bp, d->engine.settlement.tolerances[0].percent_bp);
  EXPECT_EQ(shipped->engine.settlement.tolerances[0].abs_minor, d->engine.settlement.tolerances[0].abs_minor);
  EXPECT_EQ(shipped->engine.settlement.charges.size(), d->engine.settlement.charges.size());

  auto c = parse_config(
      "settlement:\n"
      "  tolerances:\n    - { carrier: freightly, charge: quote_total, abs_minor: 500, percent: 2.5 }\n"
      "  charges:\n"
      "    - { carrier: '*', code: redelivery, evidence: ['status:attempt_failed'], contract_minor: 700 }\n"
      "    - { carrier: parcelco, code: liftgate, evidence: [always] }\n");
  ASSERT_TRUE(c.ok()) << c.status().field() << ": " << c.status().message();
  auto& s = c->engine.settlement;
  ASSERT_EQ(s.tolerances.size(), 1u);
  EXPECT_EQ(s.tolerances[0].percent_bp, 250);
  EXPECT_EQ(s.tolerances[0].abs_minor, 500);
  EXPECT_EQ(s.charges.size(), actors::default_charge_rules().size() + 1);
  int redelivery = 0;
  for (auto& r : s.charges)
    if (r.code == "redelivery") {
      ++redelivery;
      EXPECT_EQ(r.contract_minor, 700);
      EXPECT_EQ(r.evidence, std::vector<std::string>{"status:attempt_failed"});
    }
  EXPECT_EQ(redelivery, 1);

  expect_error(parse_config("settlement:\n  tolerances:\n    - { percent: 1.234 }\n"), "settlement.tolerances[0].percent",
               "two decimals");
  expect_error(parse_config("settlement:\n  tolerances:\n    - { abs_minor: -1 }\n"), "settlement.tolerances[0].abs_minor",
               ">= 0");
  expect_error(parse_config("settlement:\n  charges:\n    - { code: x, evidence: [vibes] }\n"),
               "settlement.charges[0].evidence", "unknown evidence");
  expect_error(parse_config("settlement:\n  charges:\n    - { evidence: [always] }\n"), "settlement.charges[0].code",
               "required");
}

}  // namespace
}  // namespace waybill::runtime
