#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) into ./build-fuzz
# and runs each for a bounded time on a temporary copy of its committed corpus, so the
# repository is never rewritten. Exits non-zero when a target crashes or breaks an
# invariant, naming the reproducer (replay it: build-fuzz/tests/fuzz/fuzz_<target> FILE).
#
#   scripts/fuzz.sh                       # every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh      # long run
#   scripts/fuzz.sh csv ndjson            # some targets only
#   FUZZ_REPLAY=1 scripts/fuzz.sh         # only replay the committed corpora (ctest -L fuzz)
#
# FUZZ_RSS_MB (default 2048) and FUZZ_TIMEOUT_S (default 10, per input) bound each run;
# FUZZ_KEEP=1 keeps the work directory (grown corpora, logs) for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
rss_mb="${FUZZ_RSS_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT_S:-10}"

# clang 14 from Debian 12; libclang-rt-14-dev carries libFuzzer and the sanitizer runtimes.
need=()
command -v clang++ >/dev/null || need+=(clang)
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "fuzz: install ${need[*]} (as root)" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if [ "$(id -u)" -eq 0 ]; then scripts/install-deps.sh; fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
# With debug info (-g) ccache also hashes the build directory; leave it out, or a clone
# at another path misses the cache for every object (the base dir alone is not enough).
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
build_start=$(date +%s)
cmake -S . -B build-fuzz -G Ninja -DWAYBILL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target waybill_fuzz
echo "fuzz: build took $(( $(date +%s) - build_start )) s"

if [ -n "${FUZZ_REPLAY:-}" ]; then
  exec ctest --test-dir build-fuzz -L fuzz --output-on-failure
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

work="$(mktemp -d /tmp/waybill-fuzz.XXXXXX)"
[ -n "${FUZZ_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="build-fuzz/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz: no target '$t'" >&2; exit 2; }
  mkdir -p "$work/$t/corpus" "$work/$t/crashes"
  cp -r "tests/fuzz/corpus/$t/." "$work/$t/corpus/" 2>/dev/null || true
  args=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" -print_final_stats=1
        -artifact_prefix="$work/$t/crashes/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  echo "fuzz: $t for ${seconds} s"
  status=0
  "$bin" "${args[@]}" "$work/$t/corpus" >"$work/$t/log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/$t/log" | tail -1)
  [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/$t/log" | tail -1)
  corpus=$(find "$work/$t/corpus" -type f | wc -l)
  if [ "$status" -ne 0 ]; then
    failed=1
    repro=$(find "$work/$t/crashes" -type f | head -1)
    if [ -n "$repro" ]; then
      keep="/tmp/waybill-fuzz-$t-$(basename "$repro")"
      cp "$repro" "$keep"
      repro="$keep"
    fi
    grep -E '^(==[0-9]+==ERROR|SUMMARY|FUZZ_CHECK|.*runtime error)' "$work/$t/log" | head -5 || true
    tail -n 40 "$work/$t/log" >"/tmp/waybill-fuzz-$t.log"
    echo "fuzz: $t FAILED (exit $status) after ${runs:-?} runs; reproducer: ${repro:-none}; log tail: /tmp/waybill-fuzz-$t.log"
    summary+=("$(printf '%-20s FAILED  %12s runs  reproducer %s' "$t" "${runs:-?}" "${repro:-none}")")
  else
    summary+=("$(printf '%-20s ok      %12s runs  corpus %d' "$t" "${runs:-?}" "$corpus")")
  fi
done

echo "fuzz: executions per target (${seconds} s each)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
