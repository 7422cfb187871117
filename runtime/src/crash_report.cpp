#include "waybill/runtime/crash_report.hpp"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>

// Sanitizers report a crash better themselves (and install their own handlers).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WAYBILL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WAYBILL_SANITIZED 1
#endif
#endif

namespace waybill::runtime {

namespace {

constexpr int kMaxFrames = 64;
constexpr size_t kAltStackBytes = 64 * 1024;
alignas(16) char alt_stack[kAltStackBytes];

// Only async-signal-safe calls below: write(2), backtrace into a static buffer (its
// one-time initialisation, which may allocate, is done at install), raise.
void put(const char* text) {
  size_t n = std::strlen(text);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<size_t>(w);
  }
}

void put_int(int value) {
  char buf[16];
  int i = sizeof buf - 1;
  buf[i] = '\0';
  bool negative = value < 0;
  unsigned v = negative ? 0u - static_cast<unsigned>(value) : static_cast<unsigned>(value);
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && i > 1);
  if (negative) buf[--i] = '-';
  put(buf + i);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
  }
  return "signal";
}

void on_fatal_signal(int sig) {
  static void* frames[kMaxFrames];
  put("{\"level\":\"fatal\",\"msg\":\"crashed\",\"component\":\"waybilld\",\"signal\":");
  put_int(sig);
  put(",\"signal_name\":\"");
  put(signal_name(sig));
  put("\",\"stack\":\"follows, one frame per line\"}\n");
  int n = backtrace(frames, kMaxFrames);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  // SA_RESETHAND restored the default action: die of the same signal.
  raise(sig);
}

}  // namespace

bool crash_report_available() {
#ifdef WAYBILL_SANITIZED
  return false;
#else
  return true;
#endif
}

void install_crash_report() {
  if (!crash_report_available()) return;
  // backtrace() loads libgcc's unwinder on first use, which may allocate: never first
  // inside the handler.
  void* warm[1];
  (void)backtrace(warm, 1);
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

}  // namespace waybill::runtime
