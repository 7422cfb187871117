// A crash is reported in the log (signal and stack) and the process still dies of it.
#include <csignal>

#include <gtest/gtest.h>

#include "waybill/runtime/crash_report.hpp"

using namespace waybill::runtime;

namespace {

// Not inlined, so that its frame shows in the stack. The signal is raised rather than
// caused: a write through a null pointer is undefined, and the optimiser may drop it.
[[gnu::noinline]] void crash_here() { std::raise(SIGSEGV); }

}  // namespace

TEST(CrashReportDeathTest, SegfaultIsReportedWithItsStackThenKillsTheProcess) {
  if (!crash_report_available()) GTEST_SKIP() << "sanitizer build: the sanitizer reports crashes";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_crash_report();
        crash_here();
      },
      ::testing::KilledBySignal(SIGSEGV),
      // The JSON line, then frames naming the module they are in (this test binary);
      // POSIX regex: '.' matches newlines too.
      R"(\{"level":"fatal","msg":"crashed","component":"waybilld","signal":11,"signal_name":"SIGSEGV".*waybill_unit_tests\(\+0x)");
}

TEST(CrashReportDeathTest, AbortIsReportedToo) {
  if (!crash_report_available()) GTEST_SKIP() << "sanitizer build: the sanitizer reports crashes";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_crash_report();
        std::abort();
      },
      ::testing::KilledBySignal(SIGABRT), R"("signal_name":"SIGABRT")");
}
