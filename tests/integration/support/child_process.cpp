#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace waybill::itest {

pid_t spawn_child(std::vector<std::string> args, int out_fd, int err_fd) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test process
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    // Client sockets of the test must not leak into the child.
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    execv(argv[0], argv.data());
    const char msg[] = "exec failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  int saved = errno;
  if (null_fd >= 0) ::close(null_fd);
  errno = saved;
  return pid;
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string CommandRun::describe() const {
  return "exit " + std::to_string(exit_code) + " signal " + std::to_string(signal) + "\nstdout:\n" + out +
         "\nstderr:\n" + err;
}

CommandRun run_command(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  char dir_template[] = "/tmp/waybill-cmd-XXXXXX";
  CommandRun run;
  if (!mkdtemp(dir_template)) return run;
  const std::string dir = dir_template, out_path = dir + "/out", err_path = dir + "/err";
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = spawn_child(std::move(args), out_fd, err_fd);
  ::close(out_fd);
  ::close(err_fd);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (pid > 0) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  run.out = slurp(out_path);
  run.err = slurp(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  ::rmdir(dir.c_str());
  return run;
}

}  // namespace waybill::itest
