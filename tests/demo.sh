#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The main job, end to end, as a new user meets camerad:
#   installs what is missing (tests/setup-deps.sh), builds camerad and camctl in build/,
#   starts a private dbus-daemon and camerad on it with one virtual camera,
#   takes a burst photo and a short recording with camctl, waits for the deferred
#   processing of both, and checks out/photo.jpg (djpeg decodes it, EXIF present) and
#   out/clip.avi (ffprobe reads Motion-JPEG frames). Prints each step with its time and
#   leaves no process behind.
#
# Usage: bash tests/demo.sh [--skip-deps] [--builddir DIR] [--out DIR] [--seconds N] [--burst N]
# Run as root on a fresh Debian 12 (package installation and camerad's polkit rule for
# root need it). Environment: CAMERAD_DEMO_SKIP_DEPS=1 is the same as --skip-deps.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

builddir=build
outdir=out
seconds=3
burst=8
skip_deps=${CAMERAD_DEMO_SKIP_DEPS:-0}

while [ $# -gt 0 ]; do
        case $1 in
                --skip-deps) skip_deps=1 ;;
                --builddir) builddir=$2; shift ;;
                --out) outdir=$2; shift ;;
                --seconds) seconds=$2; shift ;;
                --burst) burst=$2; shift ;;
                -h|--help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
                *) echo "demo: unknown argument '$1' (try --help)" >&2; exit 2 ;;
        esac
        shift
done

if [ "$(id -u)" -ne 0 ]; then
        echo "demo: not running as root: package installation is skipped and camerad will" >&2
        echo "demo: refuse the capture session unless polkit allows it; run 'sudo bash tests/demo.sh'." >&2
        skip_deps=1
fi

python=/usr/bin/python3
demo_start=$(date +%s.%N)
run_dir=
bus_pid=
daemon_pid=
summary=()

elapsed() { # start → seconds since, 2 decimals
        awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

note() {
        printf '\n==> %s\n' "$*"
}

record_step() { # name start detail
        local t
        t=$(elapsed "$2")
        summary+=("$(printf '%-28s %7s s  %s' "$1" "$t" "$3")")
        printf -- '--- %s: %s s\n' "$1" "$t"
}

json_get() { # key < json
        "$python" -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[k]
print(d)' "$1"
}

stop_pid() { # pid name: SIGTERM, wait up to 10 s, then SIGKILL; only our own children
        local pid=$1 name=$2 i
        [ -n "$pid" ] || return 0
        kill -0 "$pid" 2>/dev/null || return 0
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
                echo "demo: $name did not stop after SIGTERM; killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
        fi
        local status=0
        wait "$pid" 2>/dev/null || status=$?
        if [ "$status" -ne 0 ]; then
                echo "demo: $name exited with status $status after SIGTERM" >&2
                return 1
        fi
}

cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        stop_pid "$daemon_pid" camerad || rc=1
        stop_pid "$bus_pid" dbus-daemon || true
        [ -n "$run_dir" ] && rm -rf "$run_dir"
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Dependencies -------------------------------------------------------------------------
t=$(date +%s.%N)
if [ "$skip_deps" = 1 ]; then
        note "Dependencies: skipped"
elif [ -f tests/setup-deps.sh ]; then
        note "Dependencies: tests/setup-deps.sh"
        bash tests/setup-deps.sh
else
        note "Dependencies: installing with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends build-essential meson ninja-build pkg-config \
                libsystemd-dev libv4l-dev libturbojpeg0-dev libcjson-dev libexif-dev dbus-daemon \
                python3 libjpeg-turbo-progs ffmpeg libimage-exiftool-perl >/dev/null
fi
record_step "dependencies" "$t" ""

# 2. Build --------------------------------------------------------------------------------
note "Build in $builddir/"
t=$(date +%s.%N)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
build_log="$outdir/build.log"
if ! { [ -f "$builddir/build.ninja" ] || meson setup "$builddir"; } >"$build_log" 2>&1 ||
   ! meson compile -C "$builddir" camerad camctl >>"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        echo "demo: the build failed; the whole log is in $build_log" >&2
        exit 1
fi
target_path() {
        meson introspect "$builddir" --targets | "$python" -c 'import json, sys
for t in json.load(sys.stdin):
    if t["name"] == sys.argv[1] and t["type"] == "executable":
        print(t["filename"][0]); break' "$1"
}
camerad=$(target_path camerad)
camctl_bin=$(target_path camctl)
[ -x "$camerad" ] && [ -x "$camctl_bin" ] || { echo "demo: camerad or camctl was not built" >&2; exit 1; }
record_step "build" "$t" "$camerad, $camctl_bin"

# 3. Private bus and daemon ---------------------------------------------------------------
note "Start a private dbus-daemon and camerad (one virtual camera)"
t=$(date +%s.%N)
rm -f "$outdir/photo.jpg" "$outdir/clip.avi" "$outdir/raw.avi"
run_dir=$(mktemp -d /tmp/camerad-demo.XXXXXX)
address="unix:path=$run_dir/bus"
# A session-bus style configuration: everyone who can reach the socket may talk and own.
cat >"$run_dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>$address</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$run_dir/bus.conf" --nofork --nopidfile >"$run_dir/dbus.log" 2>&1 &
bus_pid=$!
for i in $(seq 100); do
        [ -S "$run_dir/bus" ] && break
        kill -0 "$bus_pid" 2>/dev/null || { cat "$run_dir/dbus.log" >&2; exit 1; }
        sleep 0.05
done

camctl() {
        "$camctl_bin" --address="$address" "$@"
}

"$camerad" --address="$address" --virtual-cameras=1 --no-v4l2 --state-dir="$outdir/state" \
        >"$outdir/camerad.log" 2>&1 &
daemon_pid=$!
for i in $(seq 200); do
        camctl list >/dev/null 2>&1 && break
        if ! kill -0 "$daemon_pid" 2>/dev/null; then
                echo "demo: camerad exited; its log:" >&2
                cat "$outdir/camerad.log" >&2
                exit 1
        fi
        sleep 0.05
done
camctl list >/dev/null
record_step "bus + daemon start" "$t" "camerad pid $daemon_pid on $address"
camctl list
camctl info 0

# 4. Burst photo --------------------------------------------------------------------------
note "Take a burst photo of $burst frames and wait for the merged final image"
t=$(date +%s.%N)
photo_json=$(camctl --json photo --burst "$burst" --wait -o "$outdir/photo.jpg")
photo_id=$(json_get id <<<"$photo_json")
record_step "photo (proxy + final)" "$t" \
        "$(json_get kind <<<"$photo_json") $(json_get width <<<"$photo_json")x$(json_get height <<<"$photo_json"), id $photo_id, $(json_get size <<<"$photo_json") bytes"

# 5. Recording ----------------------------------------------------------------------------
note "Record $seconds s"
t=$(date +%s.%N)
record_json=$(camctl --json record --seconds "$seconds" -o "$outdir/raw.avi")
video_id=$(json_get id <<<"$record_json")
record_step "record" "$t" "id $video_id, $(json_get size <<<"$record_json") bytes, $(json_get profile <<<"$record_json")"
camctl video pending

# 6. Deferred video processing ------------------------------------------------------------
note "Process the pending recording into $outdir/clip.avi"
t=$(date +%s.%N)
video_json=$(camctl --json video process "$outdir/raw.avi" --id "$video_id" -o "$outdir/clip.avi" \
        --denoise 0.5 --wait)
record_step "video processing" "$t" "$(json_get frames <<<"$video_json") frames"
camctl status

# 7. Checks with tools nobody here wrote --------------------------------------------------
note "Check the results"
t=$(date +%s.%N)
failed=0
if djpeg "$outdir/photo.jpg" >/dev/null; then
        echo "photo.jpg: djpeg decodes it ($(exiftool -s -s -s -ImageSize "$outdir/photo.jpg" 2>/dev/null || true), $(stat -c %s "$outdir/photo.jpg") bytes)"
else
        echo "photo.jpg: djpeg cannot decode it" >&2; failed=1
fi
exif=$(exiftool -s -s -s -Make -Model -DateTimeOriginal "$outdir/photo.jpg" 2>/dev/null | paste -sd ' ' || true)
if [ -n "$exif" ]; then
        echo "photo.jpg: EXIF Make/Model/DateTimeOriginal: $exif"
else
        echo "photo.jpg: no EXIF Make/Model/DateTimeOriginal" >&2; failed=1
fi
probe=$(ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$outdir/clip.avi" || true)
codec=${probe%%,*}
frames=${probe##*,}
if [ "$codec" = mjpeg ] && [ "${frames:-0}" -gt 0 ] 2>/dev/null; then
        echo "clip.avi: ffprobe reads $frames Motion-JPEG frames ($probe)"
else
        echo "clip.avi: ffprobe says '$probe'" >&2; failed=1
fi
record_step "checks" "$t" "djpeg, exiftool, ffprobe"

# 8. Stop ---------------------------------------------------------------------------------
t=$(date +%s.%N)
stop_pid "$daemon_pid" camerad || { tail -n 20 "$outdir/camerad.log" >&2; failed=1; }
daemon_pid=
stop_pid "$bus_pid" dbus-daemon || true
bus_pid=
record_step "stop" "$t" ""

printf '\n==> Summary (%s s in all)\n' "$(elapsed "$demo_start")"
printf '%s\n' "${summary[@]}"
printf '\nphoto: %s\nvideo: %s\n' "$outdir/photo.jpg" "$outdir/clip.avi"
exit "$failed"
