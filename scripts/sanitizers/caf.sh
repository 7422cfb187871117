#!/usr/bin/env bash
# Builds CAF's core library with ThreadSanitizer into PREFIX (include/, lib/), from the
# Debian source of the very libcaf-dev version installed, for scripts/sanitize.sh tsan.
#
#   scripts/sanitizers/caf.sh PREFIX
#
# Why: Debian's libcaf_core is not instrumented, so TSan does not see the atomics and
# lock-free queues with which CAF hands messages, actors and behaviours between its
# threads, and reports every such hand-off as a race (dozens per run, in CAF's inline
# code). Built with -fsanitize=thread, CAF's synchronisation is visible and none is left
# to suppress. Only the core is built: waybill uses no caf_io. The sources come through
# apt (deb-src entries derived from the machine's Debian sources, in a private list
# directory, so the system's apt setup is left as it is); compiles go through ccache.
# A stamp with the version skips all of it when PREFIX is already built.
set -euo pipefail
prefix="${1:?usage: scripts/sanitizers/caf.sh PREFIX}"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

# The same source as the installed headers: the instrumented library replaces it whole
# (headers included), but must behave as the library waybill ships with.
version="$(dpkg-query -W -f='${source:Package}=${source:Version}' libcaf-dev)"
stamp="$prefix/.caf-tsan"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -f "$prefix/lib/libcaf_core_static.a" ]; then
  exit 0
fi

work="$prefix/../caf-work"
rm -rf "$work" "$prefix"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/sources" "$work/src" "$prefix"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$work/apt/sources/debian.sources"
else
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$work/apt/sources/debian.list"
fi
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/apt/sources"
          -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache" -o APT::Sandbox::User=root)
echo "caf.sh: fetching $version source"
apt-get "${apt_opts[@]}" -qq update
# --tar-only: the upstream tarball (checked against the signed index) is all we build;
# Debian's packaging changes concern caf_io and the packaging, not the core.
(cd "$work/src" && apt-get "${apt_opts[@]}" -qq source --tar-only --download-only "$version")
tar -xzf "$work"/src/*.orig.tar.gz -C "$work/src"
src="$(find "$work/src" -mindepth 1 -maxdepth 1 -type d | head -1)"

# The same configuration as Debian's build (the generated caf/detail/build_config.hpp
# matches /usr/include's), static so that no system libcaf_core is loaded beside it.
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCAF_BUILD_STATIC_ONLY=yes -DCAF_LOG_LEVEL=QUIET \
  -DCAF_NO_IO=yes -DCAF_NO_OPENSSL=yes -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_TOOLS=yes \
  -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_SUMMARY=yes >/dev/null
cmp -s "$work/build/libcaf_core/caf/detail/build_config.hpp" /usr/include/caf/detail/build_config.hpp || {
  echo "caf.sh: configuration differs from the installed CAF's build_config.hpp" >&2
  exit 1
}
cmake --build "$work/build" -j"$(nproc)"
cmake --install "$work/build" >/dev/null
rm -rf "$work"
echo "$version" >"$stamp"
