#!/usr/bin/env bash
# Builds waybill with sanitizers in a build directory of its own and runs tests under them.
#
#   scripts/sanitize.sh asan   # AddressSanitizer + LeakSanitizer + UBSan (build-asan):
#                              # unit and integration tests, the integration tests driving
#                              # the sanitized waybilld and carrier-sim; no long crash
#                              # runs, no simulation seeds or chaos run
#   scripts/sanitize.sh tsan   # ThreadSanitizer (build-tsan): the actor and storage unit tests,
#                              # against a CAF core built with TSan (scripts/sanitizers/caf.sh)
#
# Extra arguments go to ctest (e.g. -R GroupCommit). Any sanitizer report - from a test
# process or from a server it started - fails the run: reports are written to
# <build dir>/sanitizer-logs/ and printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
[ $# -gt 0 ] && shift

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Paths relative to the checkout, so a fresh clone elsewhere still hits the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
# These builds carry debug info (-g), for which ccache hashes the build directory too:
# leave it out so that a clone at another path hits the cache (the debug info's
# compilation directory may then name the other path; sanitizer reports don't care).
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

case "$mode" in
  asan)
    dir=build-asan
    sanitize=address,undefined
    targets=(all)
    extra=()
    # Unit + integration tests; the crash tests' default short runs stay in, their
    # long runs (WAYBILL_CRASH_CYCLES) are not CI material. Left out: the deterministic
    # simulation's seeds and the chaos run, together 160 of the 450 test-seconds under
    # ASan; scripts/test.sh runs both, the engine and unit tests put the same actor code
    # under ASan, and the crash tests its recovery after kills. A later -E replaces this
    # one: `scripts/sanitize.sh asan -E '^$'` runs everything.
    select=(-E '^(Sim|Chaos)\.')
    ;;
  tsan)
    dir=build-tsan
    sanitize=thread
    targets=(waybill_unit_tests)
    # Tests whose code runs on several threads: group commit writer, registry and
    # actors, the in-process engine, the tracking poller, flat-file intake, visibility passes.
    select=(-R '^(GroupCommit|RegistryTest|EngineTest|EngineTrackingTest|EngineOwnershipTest|TrackingPollerTest|FlatFiles|OrderLogic|ShipmentLogic|ShipmentLogicProperty|VisibilityTest|VisibilityClassify)\.')
    extra=(-DWAYBILL_CAF_DIR="$PWD/$dir/caf")
    ;;
  *)
    echo "usage: scripts/sanitize.sh asan|tsan [ctest args...]" >&2
    exit 2
    ;;
esac

scripts/install-deps.sh
if [ "$mode" = tsan ]; then scripts/sanitizers/caf.sh "$dir/caf"; fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWAYBILL_SANITIZE="$sanitize" -DWAYBILL_BUILD_BENCH=OFF "${extra[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"

logs="$PWD/$dir/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
# halt_on_error: the first finding ends the process, so the test that caused it fails.
# log_path: servers started by integration tests report into files too, where their
# exit status alone might not be looked at.
common="halt_on_error=1:log_path=$logs/report"
export ASAN_OPTIONS="$common:detect_leaks=1:abort_on_error=0:strict_init_order=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="$common:print_stacktrace=1"
export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$PWD/scripts/sanitizers/tsan.supp"

status=0
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" "${select[@]}" "$@" || status=$?

reports=("$logs"/report*)
if [ -e "${reports[0]}" ]; then
  echo "sanitize.sh: ${#reports[@]} sanitizer report(s) in $logs:" >&2
  for r in "${reports[@]}"; do
    echo "==== $r" >&2
    cat "$r" >&2
  done
  status=1
fi
exit "$status"
