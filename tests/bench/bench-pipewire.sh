#!/usr/bin/env bash
# The bridge benchmark, set up by hand: a private XDG_RUNTIME_DIR and session bus,
# pipewire + wireplumber, camerad (virtual camera) and camerad-pipewire, then
# bench-pipewire consuming 1080p. Usage: bench-pipewire.sh BUILDDIR [FORMAT] [FRAMES]
set -euo pipefail
if [ -z "${CAMERAD_BENCH_INNER:-}" ]; then
        CAMERAD_BENCH_INNER=1 exec dbus-run-session -- "$0" "$@"
fi
build=$(cd "${1:?builddir}" && pwd) format=${2:-YUY2} frames=${3:-300}
work=$(mktemp -d)
export XDG_RUNTIME_DIR=$work/run XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config
mkdir -m 700 "$XDG_RUNTIME_DIR"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$work"; }
trap cleanup EXIT
pipewire >"$work/pw.log" 2>&1 & pids+=($!)
sleep 1
wireplumber >"$work/wp.log" 2>&1 & pids+=($!)
"$build/src/bus/camerad" --session --state-dir="$work/camerad" --virtual-cameras=1 --no-v4l2 \
        >"$work/camerad.log" 2>&1 & pids+=($!)
sleep 1
"$build/src/pipewire/camerad-pipewire" --session >"$work/bridge.log" 2>&1 & bridge=$!
pids+=($bridge)
sleep 2
timeout 120 "$build/tests/bench/bench-pipewire" --bridge-pid="$bridge" --format="$format" --frames="$frames"
