// Starting a test's child process (waybilld, carrier-sim): stdin from /dev/null, output
// to the given descriptors, no inherited sockets, killed if the test process dies.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace waybill::itest {

/// Forks and execs `args` (args[0] is the binary). Returns the child's pid, or -1 with
/// errno set. The caller keeps (and closes) `out_fd` and `err_fd`.
pid_t spawn_child(std::vector<std::string> args, int out_fd, int err_fd);

}  // namespace waybill::itest
