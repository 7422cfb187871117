// waybill-rebalance: the offline membership change (rebalance.hpp). With every node
// stopped, moves the orders whose owner changes from the old member list to the new
// one, with all their records, and the carriers whose settlement owner changes, with
// their invoices, disputes, totals, billings and freight events; then records the new
// membership on every node.
//
//   waybill-rebalance --from old/node1.yaml old/node2.yaml --to new/node1.yaml new/node2.yaml new/node3.yaml
//
// Exit codes: 0 done (or nothing left to do, or a dry run without conflicts); 1 usage
// or configs that do not describe one change; 2 refused, nothing changed (a store in
// use, another membership, conflicting records); 3 stopped midway (run it again).
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "waybill/runtime/membership.hpp"
#include "waybill/runtime/rebalance.hpp"
#include "waybill/version.hpp"

using namespace waybill;
using namespace waybill::runtime;

namespace {

int exit_code_of(const Status& st) {
  switch (st.code()) {
    case Code::invalid_argument: return 1;
    case Code::conflict: return 2;
    default: return 3;
  }
}

void print_moves(const RebalanceReport& r) {
  for (auto& [pair, c] : r.moves)
    std::printf("  %s -> %s: %llu orders, %llu shipments, %llu milestones, %llu events, %llu invoices "
                "(%llu settlement records), %llu records\n",
                pair.first.c_str(), pair.second.c_str(), static_cast<unsigned long long>(c.orders),
                static_cast<unsigned long long>(c.shipments), static_cast<unsigned long long>(c.milestones),
                static_cast<unsigned long long>(c.events), static_cast<unsigned long long>(c.invoices),
                static_cast<unsigned long long>(c.settlement_records), static_cast<unsigned long long>(c.records));
  if (r.idempotency_kept)
    std::printf("  %llu Idempotency-Key record(s) stay on their node: the destination holds another request under the key\n",
                static_cast<unsigned long long>(r.idempotency_kept));
  if (r.orphans_kept)
    std::printf("  %llu record(s) name a shipment their node does not hold, or no readable carrier: left in place\n",
                static_cast<unsigned long long>(r.orphans_kept));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"waybill-rebalance: move entities to their owners under a new cluster member list (nodes stopped)"};
  std::vector<std::string> from, to;
  RebalanceOptions options;
  uint64_t kill_after_writes = 0;
  app.add_option("--from", from, "waybilld config of every node of the OLD member list")->required();
  app.add_option("--to", to, "waybilld config of every node of the NEW member list")->required();
  app.add_flag("--dry-run", options.dry_run, "Plan and check only: what would move, and conflicts; change nothing");
  app.add_option("--batch-records", options.batch_records, "Records read from a source per step: copied, fsynced, then deleted (default 4096)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--kill-after-writes", kill_after_writes, "Crash tests: SIGKILL this process after the Nth write")
      ->group("");
  app.set_version_flag("--version", build::describe("waybill-rebalance"), "Print the version and build and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (kill_after_writes > 0)
    options.after_write = [kill_after_writes](uint64_t writes) {
      if (writes >= kill_after_writes) std::raise(SIGKILL);
      return true;
    };
  options.progress = [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
  };

  auto change = membership_change_from_configs(from, to);
  if (!change) {
    std::fprintf(stderr, "waybill-rebalance: %s: %s\n", change.status().field().c_str(), change.status().message().c_str());
    return 1;
  }
  std::printf("waybill-rebalance: %s -> %s%s\n", describe_members(change->from.member_ids).c_str(),
              describe_members(change->to.member_ids).c_str(), options.dry_run ? " (dry run)" : "");
  std::fflush(stdout);
  auto report = rebalance(*change, options);
  if (!report) {
    std::fprintf(stderr, "waybill-rebalance: %s\n", report.status().message().c_str());
    int code = exit_code_of(report.status());
    if (code == 3) std::fprintf(stderr, "waybill-rebalance: nodes refuse to start until it is run again and finishes\n");
    return code;
  }
  switch (report->outcome) {
    case RebalanceReport::Outcome::already_done:
      std::printf("nothing to do: every node already records %s (epoch %llu)\n",
                  describe_members(change->to.member_ids).c_str(), static_cast<unsigned long long>(report->epoch));
      return 0;
    case RebalanceReport::Outcome::planned:
      print_moves(*report);
      for (auto& c : report->conflicts) std::printf("  conflict: %s\n", c.c_str());
      std::printf("%s\n", report->conflicts.empty() ? "dry run: no conflicts" : "dry run: conflicts, a run would refuse");
      return report->conflicts.empty() ? 0 : 2;
    case RebalanceReport::Outcome::moved: break;
  }
  print_moves(*report);
  uint64_t orders = 0, invoices = 0, records = 0;
  for (auto& [pair, c] : report->moves) {
    orders += c.orders;
    invoices += c.invoices;
    records += c.records;
  }
  const double s = report->seconds > 0 ? report->seconds : 1e-9;
  std::printf("done: epoch %llu; this run moved %llu orders and %llu invoices (%llu records) in %.3f s: %.0f orders/s, "
              "%.0f records/s; %llu writes, %llu subscription(s) copied\n",
              static_cast<unsigned long long>(report->epoch), static_cast<unsigned long long>(orders),
              static_cast<unsigned long long>(invoices), static_cast<unsigned long long>(records), report->seconds,
              orders / s, records / s, static_cast<unsigned long long>(report->writes),
              static_cast<unsigned long long>(report->subscriptions_copied));
  return 0;
}
