// Starting a test's child process (waybilld, carrier-sim): stdin from /dev/null, output
// to the given descriptors, no inherited sockets, killed if the test process dies.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace waybill::itest {

/// Forks and execs `args` (args[0] is the binary). Returns the child's pid, or -1 with
/// errno set. The caller keeps (and closes) `out_fd` and `err_fd`.
pid_t spawn_child(std::vector<std::string> args, int out_fd, int err_fd);

/// How a short-lived command ended, with what it wrote.
struct CommandRun {
  int exit_code = -1;  // -1: killed by a signal (see signal) or still running at the deadline
  int signal = 0;
  std::string out, err;
  std::string describe() const;
};

/// Runs `args` (args[0] is the binary) to completion with stdout and stderr captured
/// through files in a fresh directory (removed afterwards); SIGKILLed at `timeout`.
CommandRun run_command(std::vector<std::string> args, std::chrono::milliseconds timeout);

}  // namespace waybill::itest
