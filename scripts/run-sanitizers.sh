#!/usr/bin/env bash
# Builds the native threads-as-ranks tests (native/test, ringtree_native_tests) under
# AddressSanitizer and ThreadSanitizer in their own build folders (build-asan, build-tsan), runs them
# with the default buffer sizes and with tiny ones (multi-chunk, ring wrap-around), then (address)
# the tfjs kernel tests against an ASan build of the addon (build-asan-addon), and exits non-zero
# when a test fails or a sanitizer reports anything.
#
#   scripts/run-sanitizers.sh                 # both sanitizers
#   RINGTREE_SANITIZERS=thread scripts/run-sanitizers.sh
#   scripts/run-sanitizers.sh allReduce       # only tests whose name contains "allReduce"
# RINGTREE_BUILD_JOBS (default 2) sets the build parallelism. Tests marked as known runtime bugs are
# reported without failing the run unless RINGTREE_TEST_STRICT=1.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${RINGTREE_BUILD_JOBS:-2}"
sanitizers="${RINGTREE_SANITIZERS:-address thread}"
filter="${1:-}"
status=0

for tool in cmake c++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run-sanitizers: $tool is missing (Debian: apt-get install -y cmake g++ make libssl-dev)" >&2
    exit 2
  fi
done

# TSAN needs a fixed address-space layout on kernels with high mmap randomisation
norandom=()
if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
  norandom=(setarch "$(uname -m)" -R)
fi

for san in $sanitizers; do
  extra=()
  case "$san" in
    address) dir="$root/build-asan" ;;
    thread)
      dir="$root/build-tsan"
      # GCC's target_clones (native/reduce/reduce.cc RINGTREE_MULTIVERSION) emits ifunc resolvers
      # that run during relocation, before the TSAN runtime is up; instrumented function entry in
      # them segfaults at startup. Memory accesses stay instrumented; reports lose caller frames.
      extra=("-DCMAKE_CXX_FLAGS=--param=tsan-instrument-func-entry-exit=0")
      ;;
    *) echo "run-sanitizers: unknown sanitizer '$san' (address | thread)" >&2; exit 2 ;;
  esac
  echo "=== $san: configure and build in $dir"
  if ! cmake -S "$root" -B "$dir" -DRINGTREE_BUILD_ADDON=OFF -DRINGTREE_BUILD_TESTS=ON -DRINGTREE_SANITIZE="$san" "${extra[@]}" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log" >&2
    echo "run-sanitizers: $san: configure failed" >&2
    status=1
    continue
  fi
  rm -f "$dir.configure.log"
  if ! cmake --build "$dir" --target ringtree_native_tests -j "$jobs" >"$dir/build.log" 2>&1; then
    tail -50 "$dir/build.log" >&2
    echo "run-sanitizers: $san: build failed (full log: $dir/build.log)" >&2
    status=1
    continue
  fi
  bin="$dir/native/ringtree_native_tests"
  for buffers in default small; do
    log="$dir/test-$buffers.log"
    envs=(
      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
      "TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1:exitcode=66"
    )
    if [ "$buffers" = small ]; then
      envs+=(RINGTREE_SHM_RING_BYTES=4096 RINGTREE_SHM_CHUNK_BYTES=1024 RINGTREE_TCP_STAGING_BYTES=4096)
    fi
    echo "=== $san, $buffers buffers: $bin ${filter}"
    start=$(date +%s)
    env "${envs[@]}" "${norandom[@]}" "$bin" ${filter:+"$filter"} >"$log" 2>&1
    rc=$?
    grep -E '^(ok|FAIL|KNOWN BUG)|tests, ' "$log"
    reports=$(grep -cE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:' "$log")
    echo "=== $san, $buffers buffers: exit $rc, $reports sanitizer report(s), $(( $(date +%s) - start )) s (log: $log)"
    if [ "$reports" -gt 0 ]; then
      grep -m 3 -A 30 -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:' "$log" >&2
    fi
    if [ "$rc" -ne 0 ] || [ "$reports" -gt 0 ]; then status=1; fi
  done
done

# The tfjs kernels (native/kernels) run only through the addon: build it with AddressSanitizer in its
# own folder and run the kernel tests (test/tfjs, built by `npm run build`) in node with the ASan
# runtime preloaded.
if [[ " $sanitizers " == *" address "* ]] && [ -z "$filter" ] && [ -d "$root/dist/test/tfjs" ] && [ -x "$root/node_modules/.bin/ava" ]; then
  dir="$root/build-asan-addon"
  echo "=== address: addon build in $dir, then the tfjs kernel tests"
  if ! (cd "$root" && node_modules/.bin/cmake-js compile --out "$dir" --CDRINGTREE_SANITIZE=address --parallel "$jobs") >"$dir.log" 2>&1; then
    tail -30 "$dir.log" >&2
    echo "run-sanitizers: address: addon build failed (log: $dir.log)" >&2
    status=1
  else
    log="$dir/test-tfjs.log"
    start=$(date +%s)
    (cd "$root" && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 LD_PRELOAD="$(c++ -print-file-name=libasan.so)" \
      RINGTREE_ADDON_PATH="$dir/Release/ringtree.node" node_modules/.bin/ava 'dist/test/tfjs/**/*.test.js') >"$log" 2>&1
    rc=$?
    reports=$(grep -cE 'ERROR: AddressSanitizer|runtime error:' "$log")
    grep -E 'tests? (passed|failed)' "$log"
    echo "=== address, tfjs kernels: exit $rc, $reports sanitizer report(s), $(( $(date +%s) - start )) s (log: $log)"
    if [ "$reports" -gt 0 ]; then grep -m 3 -A 30 -E 'ERROR: AddressSanitizer|runtime error:' "$log" >&2; fi
    if [ "$rc" -ne 0 ] || [ "$reports" -gt 0 ]; then status=1; fi
  fi
fi

if [ "$status" -eq 0 ]; then echo "run-sanitizers: all clean"; else echo "run-sanitizers: FAILED" >&2; fi
exit "$status"
