// waybill: the admin CLI of waybilld. Each command is one HTTP request to the API
// (`--url`, WAYBILL_URL or the config file's url; key from WAYBILL_API_KEY or the
// config file's api_key, sent as `Authorization: Bearer`). Tables by default, the
// server's JSON with --json; https verifies the server (system CAs or --cacert).
// Exit codes: see outcome.hpp and the README.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "waybill/cli/http.hpp"
#include "waybill/cli/render.hpp"
#include "waybill/cli/requests.hpp"
#include "waybill/cli/settings.hpp"
#include "waybill/version.hpp"

namespace waybill::cli {
namespace {

using Renderer = std::function<Outcome<std::string>(std::string_view json)>;

struct Command {
  ApiRequest request;
  Renderer render = nullptr;
  Headers headers;
};

int fail(const Failure& f) {
  std::fprintf(stderr, "waybill: %s\n", f.message.c_str());
  return static_cast<int>(f.code);
}

int run(const Settings& settings, const Command& cmd, bool json) {
  auto endpoint = parse_base_url(settings.url);
  if (!endpoint) return fail(endpoint.failure());
  Headers headers = cmd.headers;
  if (!settings.api_key.empty()) headers.emplace_back("Authorization", "Bearer " + settings.api_key);
  TransportOptions transport{std::chrono::milliseconds(settings.timeout_ms), settings.ca_file};
  auto res = send_request(*endpoint, cmd.request, headers, transport);
  if (!res) return fail(res.failure());
  ExitCode code = exit_code_for_http_status(res->status);
  if (json) {
    // The server's answer as it came, errors included, so scripts can read problem+json.
    std::fwrite(res->body.data(), 1, res->body.size(), stdout);
    if (!res->body.empty() && res->body.back() != '\n') std::fputc('\n', stdout);
  }
  if (code != ExitCode::ok) {
    std::string message = describe_error(res->status, res->body);
    if (code == ExitCode::auth && settings.api_key.empty())
      message += " (no API key: set WAYBILL_API_KEY or api_key in the config file)";
    return fail({code, message});
  }
  if (json) return 0;
  auto text = cmd.render(res->body);
  if (!text) return fail(text.failure());
  std::fputs(text->c_str(), stdout);
  return 0;
}

// The command tree. The callback of the chosen leaf fills `chosen_` once parsing succeeded.
class Cli {
 public:
  Cli() : app_("waybill: admin CLI for the waybilld HTTP API") {
    app_.set_version_flag("--version", build::describe("waybill"), "Print the version and build and exit");
    app_.require_subcommand(1);
    app_.fallthrough();  // global options may also follow the command
    app_.add_option("--url", url_, "Base URL of waybilld (default: WAYBILL_URL, the config file, " +
                                       std::string(kDefaultUrl) + ")");
    app_.add_option("--config", config_, "Config file with url and api_key (default: ~/.config/waybill/cli.yaml)");
    app_.add_option("--timeout-ms", timeout_ms_, "Bound on the whole request (default: 10000)");
    app_.add_option("--cacert", ca_file_, "https: PEM file of CAs to trust (default: WAYBILL_CACERT, the system's)");
    app_.add_flag("--json", json_, "Print the server's JSON answer instead of a table");
    add_orders();
    add_exceptions();
    add_disputes();
    add_subscriptions();
    add_carriers();
  }

  int main(int argc, char** argv) {
    try {
      app_.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      int code = app_.exit(e);  // prints help, version or the error
      return code == 0 ? 0 : static_cast<int>(ExitCode::usage);
    }
    SettingsFlags flags;
    if (app_.count("--url")) flags.url = url_;
    if (app_.count("--config")) flags.config_path = config_;
    if (app_.count("--timeout-ms")) flags.timeout_ms = timeout_ms_;
    if (app_.count("--cacert")) flags.ca_file = ca_file_;
    auto settings = resolve_settings(flags, process_environment());
    if (!settings) return fail(settings.failure());
    return run(*settings, *chosen_, json_);
  }

 private:
  CLI::App* leaf(CLI::App* parent, const char* name, const char* help, std::function<Command()> make) {
    auto* sub = parent->add_subcommand(name, help);
    sub->callback([this, make] { chosen_ = make(); });
    return sub;
  }

  CLI::App* group(const char* name, const char* help) {
    auto* g = app_.add_subcommand(name, help);
    g->require_subcommand(1);
    return g;
  }

  void add_orders() {
    auto* orders = group("orders", "Orders");
    leaf(orders, "get", "Show an order: status, addresses, lines, shipments", [this] {
      return Command{requests::get_order(id_), render_order, {}};
    })->add_option("ORDER_ID", id_)->required();
    auto* shipments = group("shipments", "Shipments");
    leaf(shipments, "get", "Show a shipment: booking, tracking numbers, milestones", [this] {
      return Command{requests::get_shipment(id_), render_shipment, {}};
    })->add_option("SHIPMENT_ID", id_)->required();
    leaf(&app_, "trace", "An order's shipments and audit trail (every change and why)", [this] {
      return Command{requests::trace(id_), render_trace, {}};
    })->add_option("ORDER_ID", id_)->required();
  }

  void add_exceptions() {
    auto* ex = group("exceptions", "The manual-intervention queue");
    auto* list = leaf(ex, "list", "Shipments waiting for an operator", [this] {
      return Command{requests::list_exceptions(exception_filter_), render_exceptions, {}};
    });
    list->add_option("--carrier", exception_filter_.carrier, "Only this carrier");
    list->add_option("--region", exception_filter_.region, "Only this ship-to country (ISO 3166 alpha-2)");
    list->add_option("--reason", exception_filter_.reason, "Only this reason, e.g. bad_postal_code");
    list->add_option("--after", exception_filter_.after, "Continue after this shipment id (the 'more:' line)");
    list->add_option("--limit", exception_filter_.limit, "At most this many (1..1000, default 100)")
        ->check(CLI::Range(1, 1000));
    auto* retry = leaf(ex, "resolve", "Retry the booking, optionally at another carrier/service", [this] {
      return Command{requests::retry_exception(id_, carrier_, service_), render_action_result, {}};
    });
    retry->add_option("SHIPMENT_ID", id_)->required();
    retry->add_option("--carrier", carrier_, "Book at this carrier instead");
    retry->add_option("--service", service_, "Book this service of the carrier");
    leaf(ex, "cancel", "Give up the shipment (no booking)", [this] {
      return Command{requests::cancel_exception(id_), render_action_result, {}};
    })->add_option("SHIPMENT_ID", id_)->required();
  }

  void add_disputes() {
    auto* d = group("disputes", "Freight invoice lines that did not match");
    auto* list = leaf(d, "list", "The dispute queue", [this] {
      return Command{requests::list_disputes(dispute_filter_), render_disputes, {}};
    });
    list->add_option("--state", dispute_filter_.state, "open (default), accepted, rejected, resolved or any");
    list->add_option("--carrier", dispute_filter_.carrier, "Only this carrier");
    list->add_option("--outcome", dispute_filter_.outcome,
                     "overbilled, underbilled, unjustified_accessorial, duplicate or unmatched");
    list->add_option("--after", dispute_filter_.after, "Continue after this dispute id (the 'more:' line)");
    list->add_option("--limit", dispute_filter_.limit, "At most this many (1..1000, default 100)")
        ->check(CLI::Range(1, 1000));
    auto* resolve = leaf(d, "resolve", "Decide a dispute: --accept, --reject or --amount-minor N", [this] {
      return make_decision();
    });
    resolve->add_option("DISPUTE_ID", id_, "carrier:invoice_number:line")->required();
    auto* accept = resolve->add_flag("--accept", accept_, "Pay as billed");
    auto* reject = resolve->add_flag("--reject", reject_, "Refuse to pay the line");
    amount_option_ = resolve->add_option("--amount-minor", amount_minor_, "Pay this agreed amount, in minor units");
    auto* amount = amount_option_;
    accept->excludes(reject)->excludes(amount);
    reject->excludes(amount);
    resolve->add_option("--note", note_, "Why, kept with the decision");
    resolve->add_option("--actor", actor_, "Who decides (X-Actor; default: $USER)");
  }

  Command make_decision() {
    requests::DisputeDecision decision;
    using Kind = requests::DisputeDecision::Kind;
    if (accept_) decision.kind = Kind::accept;
    else if (reject_) decision.kind = Kind::reject;
    else if (amount_option_->count() > 0) decision.kind = Kind::resolve, decision.amount_minor = amount_minor_;
    else throw CLI::ValidationError("disputes resolve", "one of --accept, --reject or --amount-minor N is required");
    decision.note = note_;
    Headers headers;
    std::string actor = actor_;
    if (actor.empty())
      if (const char* user = std::getenv("USER")) actor = user;
    if (!actor.empty()) headers.emplace_back("X-Actor", actor);
    return Command{requests::decide_dispute(id_, decision),
                   [id = id_](std::string_view json) { return render_dispute_decision(json, id); }, std::move(headers)};
  }

  void add_subscriptions() {
    auto* s = group("subscriptions", "Webhook subscribers");
    leaf(s, "list", "Subscribers and how far each has been delivered", [] {
      return Command{requests::list_subscriptions(), render_subscriptions, {}};
    });
    leaf(s, "replay-dead-letters", "Deliver a subscriber's dead letters again", [this] {
      return Command{requests::replay_dead_letters(id_), render_action_result, {}};
    })->add_option("SUBSCRIPTION_ID", id_)->required();
  }

  void add_carriers() {
    auto* c = group("carriers", "Carrier adapters");
    leaf(c, "list", "Profiles, breaker state, queue and call outcomes", [] {
      return Command{requests::list_carriers(), render_carriers, {}};
    });
    leaf(c, "health", "One verdict per carrier from its circuit breaker", [] {
      return Command{requests::list_carriers(), render_carrier_health, {}};
    });
  }

  CLI::App app_;
  std::string url_, config_, ca_file_;
  int timeout_ms_ = 0;
  bool json_ = false;
  std::optional<Command> chosen_;
  // Arguments of the leaf commands (one leaf runs per invocation).
  std::string id_, carrier_, service_, note_, actor_;
  requests::ExceptionFilter exception_filter_;
  requests::DisputeFilter dispute_filter_;
  bool accept_ = false, reject_ = false;
  int64_t amount_minor_ = 0;
  CLI::Option* amount_option_ = nullptr;
};

}  // namespace
}  // namespace waybill::cli

int main(int argc, char** argv) { return waybill::cli::Cli().main(argc, argv); }
