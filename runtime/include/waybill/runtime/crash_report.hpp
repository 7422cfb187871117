// A crash leaves where it happened in the log, even where no core dump is kept (most
// containers and CI machines): on a fatal signal waybilld writes one JSON log line
// naming the signal, then the stack, one frame per line as "module(function+offset)
// [address]" (resolve with addr2line -e <module> <offset>), then dies of the same
// signal so that exit codes, supervisors and core dumps see the crash as before.
#pragma once

namespace waybill::runtime {

/// Installs the report for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT, on an alternate
/// signal stack (so a stack overflow is reported too). Call once, early in main, before
/// threads start.
void install_crash_report();
/// False in sanitizer builds, whose own crash reports are kept (install does nothing).
bool crash_report_available();

}  // namespace waybill::runtime
