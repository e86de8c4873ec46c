#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the dependencies, then
#   1. a -Werror build and every suite (unit, integration, packaging, fuzz corpus, vivid VM),
#   2. an ASan+UBSan build and the unit, integration, fuzz-corpus and vivid suites again,
#   3. the unit suite under valgrind (memcheck, leaks are errors),
#   4. each libFuzzer target for a short run (clang).
# Ends with one line "N passed, N failed, N skipped" over all of them.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
builddir=${BUILDDIR:-build}
fuzz_seconds=${FUZZ_SECONDS:-30}

bash tests/setup-deps.sh || exit 1

passed=0 failed=0 skipped=0
failures=()

# Adds one meson test log's counts to the totals.
count_log() {
        local log=$1 label=$2 p f s
        read -r p f s < <(/usr/bin/python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
        passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
        [ "$f" -eq 0 ] || failures+=("$label")
}

run_suite() { # label builddir meson-test-args...
        local label=$1 dir=$2 log
        shift 2
        echo "=== $label"
        # meson names the log testlog-<wrapper>.json under --wrap, so take whichever appears.
        rm -f "$dir"/meson-logs/testlog*.json
        meson test -C "$dir" --print-errorlogs "$@"
        log=$(ls "$dir"/meson-logs/testlog*.json 2>/dev/null | head -n 1)
        if [ -n "$log" ]; then
                cp "$log" "$dir/meson-logs/result-$label.json"
                count_log "$log" "$label"
        else
                failed=$((failed + 1)); failures+=("$label (no test log)")
        fi
}

setup() { # dir options...
        local dir=$1
        shift
        if [ -d "$dir" ]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi && ninja -C "$dir"
}

echo "=== build ($builddir, -Werror)"
if setup "$builddir" -Dwerror=true; then
        run_suite main "$builddir" --num-processes 2
else
        failed=$((failed + 1)); failures+=("build")
fi

echo "=== build ($builddir-asan, ASan+UBSan)"
# The vivid suite runs here too: start/stop/unplug cycles on the real driver must not leak.
if setup "$builddir-asan" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dman=disabled; then
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                run_suite asan "$builddir-asan" --suite unit --suite integration --suite fuzz \
                --suite vivid --num-processes 2
else
        failed=$((failed + 1)); failures+=("asan build")
fi

if [ -d "$builddir" ]; then
        run_suite valgrind "$builddir" --suite unit --num-processes 2 --timeout-multiplier 10 \
                --wrap='valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect'
fi

echo "=== fuzz ($builddir-fuzz, libFuzzer, ${fuzz_seconds}s per target)"
if CC=clang setup "$builddir-fuzz" -Dfuzz=true -Dtests=true -Dvm_tests=disabled -Dman=disabled \
        -Db_sanitize=address,undefined -Db_lundef=false; then
        for fuzzer in "$builddir-fuzz"/tests/fuzz/fuzz-*; do
                [ -f "$fuzzer" ] && [ -x "$fuzzer" ] && [[ "$fuzzer" != *-replay ]] || continue
                name=$(basename "$fuzzer")
                # The seeds: corpus/<name>, or the corpus its replay test uses.
                corpus=$(sed -n "s|.*'${name#fuzz-}', *'\([^']*\)'.*|tests/fuzz/corpus/\1|p" tests/fuzz/meson.build | head -n 1)
                work=$(mktemp -d)
                [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
                if "$fuzzer" -max_total_time="$fuzz_seconds" -print_final_stats=1 "$work" \
                        >"$builddir-fuzz/$name.log" 2>&1; then
                        passed=$((passed + 1)); echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$builddir-fuzz/$name.log" | grep -o '[0-9]*$') runs)"
                else
                        failed=$((failed + 1)); failures+=("fuzz $name"); tail -n 40 "$builddir-fuzz/$name.log"
                fi
                rm -rf "$work"
        done
else
        failed=$((failed + 1)); failures+=("fuzz build")
fi

[ ${#failures[@]} -eq 0 ] || echo "failed parts: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
