#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "baselines.hpp"
#include "server.hpp"

namespace waybill::bench {

namespace {

namespace fs = std::filesystem;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

// Runs a shell command, appending its output to `log`; returns the exit status and
// (if `capture`) the output.
int run(const std::string& cmd, const std::string& log, std::string* capture = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int st = ::pclose(p);
  if (!log.empty()) {
    std::ofstream out(log, std::ios::app);
    out << "$ " << cmd << "\n" << text << "\n";
  }
  if (capture) *capture = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string find_bindir(const std::string& given) {
  auto usable = [](const fs::path& d) {
    return fs::exists(d / "initdb") && fs::exists(d / "pg_ctl") && fs::exists(d / "postgres");
  };
  if (!given.empty()) return usable(given) ? given : "";
  // The newest major version: /usr/lib/postgresql/15/bin beats .../9.6/bin.
  std::error_code ec;
  std::string best;
  double best_version = -1;
  for (auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    double version = std::atof(e.path().filename().c_str());
    if (usable(e.path() / "bin") && version > best_version) {
      best_version = version;
      best = (e.path() / "bin").string();
    }
  }
  return best;
}

std::string find_tool(const std::string& bindir, const char* name) {
  if (fs::exists(fs::path(bindir) / name)) return (fs::path(bindir) / name).string();
  std::string out;
  if (run(std::string("command -v ") + name, "", &out) == 0 && !out.empty()) {
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }
  return "";
}

}  // namespace

BaselineResult run_postgres_baseline(const PgBaselineOptions& opt) {
  BaselineResult out;
  std::string bindir = find_bindir(opt.bindir);
  if (bindir.empty()) {
    out.skipped = "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found";
    return out;
  }
  std::string pgbench = find_tool(bindir, "pgbench"), psql = find_tool(bindir, "psql");
  if (pgbench.empty() || psql.empty()) {
    out.skipped = "pgbench or psql not found";
    return out;
  }
  // PostgreSQL refuses to run as root: run the server as an unprivileged user.
  std::string as_user;
  uid_t uid = 0;
  gid_t gid = 0;
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam(opt.run_as.c_str());
    if (!pw) {
      out.skipped = "running as root and there is no '" + opt.run_as + "' user to run PostgreSQL as";
      return out;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    as_user = "runuser -u " + quote(opt.run_as) + " -- ";
  }
  std::error_code ec;
  fs::remove_all(opt.dir, ec);
  fs::create_directories(opt.dir, ec);
  if (ec) {
    out.skipped = "cannot create " + opt.dir + ": " + ec.message();
    return out;
  }
  if (!as_user.empty()) {
    // The unprivileged user must reach the directory: open up its parents for traversal.
    for (fs::path p = fs::path(opt.dir).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      struct stat st;
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) ::chmod(p.c_str(), st.st_mode | S_IXOTH);
    }
    if (::chown(opt.dir.c_str(), uid, gid) != 0) {
      out.skipped = "cannot chown " + opt.dir;
      return out;
    }
  }
  const std::string data = opt.dir + "/data";
  const std::string log = opt.log_path.empty() ? opt.dir + "/bench.log" : opt.log_path;
  const uint16_t port = free_port();
  const std::string ctl = as_user + quote(bindir + "/pg_ctl") + " -D " + quote(data);
  auto cleanup = [&] {
    run(ctl + " -m immediate -w stop", log);
    fs::remove_all(opt.dir, ec);
  };

  if (run(as_user + quote(bindir + "/initdb") + " -D " + quote(data) + " -U postgres -A trust -E UTF8 -N", log) != 0) {
    out.skipped = "initdb failed (see " + log + ")";
    fs::remove_all(opt.dir, ec);
    return out;
  }
  std::string server_opts = "-c port=" + std::to_string(port) +
                            " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + opt.dir +
                            " -c synchronous_commit=on -c fsync=on -c full_page_writes=on"
                            " -c shared_buffers=256MB -c max_connections=200";
  if (run(ctl + " -l " + quote(opt.dir + "/server.log") + " -w -t 60 -o " + quote(server_opts) + " start", log) != 0) {
    out.skipped = "pg_ctl start failed (see " + log + ")";
    cleanup();
    return out;
  }
  const std::string conn = " -h 127.0.0.1 -p " + std::to_string(port) + " -U postgres ";
  const std::string rows = std::to_string(opt.rows);
  // One -c per statement: VACUUM cannot run inside the implicit transaction of a multi-statement -c.
  std::string sql = " -c " + quote("CREATE TABLE shipments(id text PRIMARY KEY, status int, version int)") +
                    " -c " + quote("INSERT INTO shipments SELECT 'SH-' || g, 1, 0 FROM generate_series(1, " + rows + ") g") +
                    " -c " + quote("VACUUM ANALYZE shipments") + " -c " + quote("CHECKPOINT");
  if (run(quote(psql) + conn + "-d postgres -v ON_ERROR_STOP=1 -q" + sql, log) != 0) {
    out.skipped = "creating the table failed (see " + log + ")";
    cleanup();
    return out;
  }
  const std::string script = opt.dir + "/milestone.sql";
  {
    std::ofstream f(script);
    f << "\\set n random(1, " << rows << ")\n"
      << "\\set st random(1, 9)\n"
      << "UPDATE shipments SET status = :st, version = version + 1 WHERE id = 'SH-' || :n;\n";
  }
  std::string text;
  int threads = std::max(1, std::min(opt.clients, 2));
  int rc = run(quote(pgbench) + conn + "-n -M prepared -c " + std::to_string(opt.clients) + " -j " +
                   std::to_string(threads) + " -T " + std::to_string(std::max(1, static_cast<int>(opt.duration_s))) +
                   " -f " + quote(script) + " postgres",
               log, &text);
  cleanup();
  if (rc != 0) {
    out.skipped = "pgbench failed (see " + log + ")";
    return out;
  }
  std::smatch m;
  if (std::regex_search(text, m, std::regex(R"(tps = ([0-9.]+) \(without initial connection time\))")))
    out.rate = std::stod(m[1]);
  if (std::regex_search(text, m, std::regex(R"(latency average = ([0-9.]+) ms)")))
    out.mean_latency_ms = std::stod(m[1]);
  if (std::regex_search(text, m, std::regex(R"(number of transactions actually processed: ([0-9]+))")))
    out.units = std::stoull(m[1]);
  out.elapsed_s = opt.duration_s;
  out.ran = out.rate > 0;
  if (!out.ran) out.skipped = "could not read pgbench output (see " + log + ")";
  out.detail = "pgbench -M prepared -c " + std::to_string(opt.clients) + ": UPDATE shipments SET status, version+1 "
               "per transaction, synchronous_commit=on, fsync=on";
  return out;
}

}  // namespace waybill::bench
