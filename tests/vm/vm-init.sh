#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the vivid test VM. Loads the modules, starts the system bus and camerad, runs the
# checks and prints one "VIVID-TEST: <name>: PASS|FAIL <detail>" line per check on the
# serial console; the host (run-vivid-test.py) parses them. Recordings are copied raw to
# /dev/vda and announced with "VIVID-DATA: <name> offset=<bytes> size=<bytes>".

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /run /tmp /var/lib/camerad
/bin/busybox --install -s
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
# In a -Db_sanitize=address,undefined build, undefined behaviour stops the process (and so
# fails a check) instead of scrolling by; no effect on other builds.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/dbus
exec </dev/console >/dev/console 2>&1

DEV=/dev/video0
LOOP=/dev/video10
LOOP_1080P=/dev/video11
DISK=/dev/vda
FAILED=0

result() { # name PASS|FAIL detail
        echo "VIVID-TEST: $1: $2 $3"
        [ "$2" = PASS ] || FAILED=$((FAILED + 1))
}

# check NAME COMMAND...: runs the command with a time limit, its last stdout line is the
# detail; stderr goes to the console with a prefix when it failed.
check() {
        name=$1
        shift
        out=$(timeout 240 "$@" 2>"/tmp/$name.err")
        rc=$?
        detail=$(echo "$out" | tail -n 1)
        if [ $rc -eq 0 ]; then
                result "$name" PASS "$detail"
        else
                result "$name" FAIL "(exit $rc) $detail"
                sed "s/^/  $name: /" "/tmp/$name.err"
        fi
        return $rc
}

# save NAME FILE OFFSET_MIB: copies a recording to the data disk for the host's ffprobe.
save() {
        size=$(wc -c <"$2")
        if [ "$size" -gt $((64 * 1048576)) ]; then
                echo "VIVID-DATA: $1 too-large size=$size (the disk has 64 MiB per recording)"
        elif dd if="$2" of=$DISK bs=1M seek="$3" conv=fsync 2>/dev/null; then
                echo "VIVID-DATA: $1 offset=$(($3 * 1048576)) size=$size"
        else
                echo "VIVID-DATA: $1 copy-failed"
        fi
}

finish() {
        for pid in $FEEDER_PIDS; do kill "$pid" 2>/dev/null; done
        if [ -n "$CAMERAD_PID" ]; then
                if kill -0 "$CAMERAD_PID" 2>/dev/null; then
                        result daemon-alive PASS "camerad (pid $CAMERAD_PID) still running after all checks"
                        # SIGTERM must end it cleanly with status 0; under ASan this is
                        # also where LeakSanitizer reports (and turns the status non-zero).
                        kill -TERM "$CAMERAD_PID"
                        n=0
                        while kill -0 "$CAMERAD_PID" 2>/dev/null && [ $n -lt 300 ]; do
                                sleep 0.1
                                n=$((n + 1))
                        done
                        if kill -0 "$CAMERAD_PID" 2>/dev/null; then
                                result daemon-exit FAIL "camerad still running 30 s after SIGTERM"
                                kill -KILL "$CAMERAD_PID"
                        else
                                wait "$CAMERAD_PID"
                                status=$?
                                if [ $status -eq 0 ]; then
                                        result daemon-exit PASS "exit status 0 $((n / 10)).$((n % 10)) s after SIGTERM"
                                else
                                        result daemon-exit FAIL "exit status $status after SIGTERM"
                                fi
                        fi
                else
                        wait "$CAMERAD_PID"
                        result daemon-alive FAIL "camerad exited with status $?"
                fi
        fi
        if [ -f /tmp/camerad.log ]; then
                echo "---- camerad log (last 300 lines) ----"
                tail -n 300 /tmp/camerad.log | sed 's/^/camerad: /'
        fi
        echo "VIVID-TEST-END failed=$FAILED"
        sync
        reboot -f
}

# 1. Kernel side: modules, the device node, raw streaming, the fault controls.
loaded=0
while read -r m; do
        if ! insmod "/lib/modules/$m" 2>/tmp/insmod.err; then
                result modules FAIL "insmod $m: $(cat /tmp/insmod.err)"
                finish
        fi
        loaded=$((loaded + 1))
done </etc/vm-modules
result modules PASS "$loaded modules loaded"

n=0
while [ ! -c $DEV ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
if [ -c $DEV ]; then
        result video-node PASS "$DEV present: $(echo /dev/video* /dev/v4l-*)"
else
        result video-node FAIL "no $DEV after 10 s: $(echo /dev/*)"
        finish
fi

check kernel-probe vivid-client probe $DEV YUYV 640x480
check kernel-stream vivid-client stream $DEV YUYV 640x480 10
check kernel-controls vivid-client has-controls $DEV disconnect inject_vidioc_streamon_error \
        percentage_of_dropped_buffers

# 1b. v4l2loopback as two MJPEG cameras (720p, 1080p), fed ffmpeg's JPEGs by
# loopback-feeder. The feeders start before camerad: with exclusive_caps=1 a node offers
# capture only once a writer wrote, and camerad looks at the nodes when it starts.
# feed SUFFIX NODE WxH: starts a feeder, waits for its first round of frames.
feed() {
        loopback-feeder "$2" "$3" 30 /fed/"$3"/*.jpg >"/tmp/feeder$1.log" 2>&1 &
        FEEDER_PIDS="$FEEDER_PIDS $!"
        n=0
        while ! grep -q '^feeding' "/tmp/feeder$1.log" && kill -0 $! 2>/dev/null && [ $n -lt 300 ]; do
                sleep 0.1
                n=$((n + 1))
        done
        if grep -q '^feeding' "/tmp/feeder$1.log"; then
                result "loopback-feed$1" PASS "$(grep '^feeding' "/tmp/feeder$1.log")"
        else
                result "loopback-feed$1" FAIL "$(tail -n 3 "/tmp/feeder$1.log" | tr '\n' ' ')"
        fi
        check "loopback-probe$1" vivid-client probe "$2" MJPG "$3"
}
if insmod /lib/modules/v4l2loopback.ko devices=2 exclusive_caps=1,1 video_nr=10,11 \
        card_label=camerad-loopback,camerad-loopback-1080p 2>/tmp/insmod.err; then
        n=0
        while { [ ! -c $LOOP ] || [ ! -c $LOOP_1080P ]; } && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        if [ -c $LOOP ] && [ -c $LOOP_1080P ]; then
                result loopback-module PASS "v4l2loopback loaded: $LOOP $LOOP_1080P"
        else
                result loopback-module FAIL "v4l2loopback loaded but $LOOP or $LOOP_1080P missing after 10 s: $(echo /dev/video*)"
        fi
        feed "" $LOOP 1280x720
        feed -1080p $LOOP_1080P 1920x1080
else
        result loopback-module FAIL "insmod v4l2loopback.ko: $(cat /tmp/insmod.err)"
fi

# 2. The system bus and the daemon.
dbus-daemon --config-file=/etc/vm-bus.conf --nofork --nopidfile --nosyslog >/tmp/dbus.log 2>&1 &
n=0
while [ ! -S /run/dbus/system_bus_socket ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
if [ ! -S /run/dbus/system_bus_socket ]; then
        result dbus FAIL "no system bus socket: $(cat /tmp/dbus.log)"
        finish
fi

if [ ! -x /usr/local/bin/camerad ]; then
        result daemon FAIL "camerad is not in the image (not built?)"
        finish
fi
camerad --system --state-dir=/var/lib/camerad --virtual-cameras=1 --verbose >/tmp/camerad.log 2>&1 &
CAMERAD_PID=$!
n=0
version=""
while [ $n -lt 60 ]; do
        version=$(busctl get-property org.camerad.Camera1 /org/camerad/Camera1 \
                org.camerad.Camera1.Manager Version 2>/dev/null) && break
        kill -0 $CAMERAD_PID 2>/dev/null || break
        sleep 0.5
        n=$((n + 1))
done
if [ -z "$version" ]; then
        result daemon FAIL "camerad did not answer Manager.Version within 30 s"
        finish
fi
result daemon PASS "Manager.Version: $version"

# 3. The camera list, through busctl.
CAM=$(timeout 60 vivid-client find-camera v4l2:platform:vivid-000 | tail -n 1)
VCAM=$(timeout 60 vivid-client find-camera virtual: | tail -n 1)
case "$CAM" in
/org/camerad/Camera1/camera/*)
        id=$(busctl get-property org.camerad.Camera1 "$CAM" org.camerad.Camera1.Camera Id)
        formats=$(busctl get-property org.camerad.Camera1 "$CAM" org.camerad.Camera1.Camera Formats)
        missing=""
        echo "$formats" | grep -q '"YUYV" 640 480 ' || missing="$missing YUYV-640x480"
        echo "$formats" | grep -q '"NV12" 640 480 ' || missing="$missing NV12-640x480"
        if [ "$id" = 's "v4l2:platform:vivid-000"' ] && [ -z "$missing" ]; then
                result camera-listed PASS "$CAM $id, Formats has YUYV and NV12 640x480 ($(echo "$formats" | cut -c1-60)...)"
        else
                result camera-listed FAIL "$CAM $id missing:$missing Formats: $formats"
        fi
        ;;
*)
        result camera-listed FAIL "$CAM"
        finish
        ;;
esac
check camera-formats vivid-client check-formats $DEV "$CAM"
check camera-formats-yu12-uyvy vivid-client check-formats $DEV "$CAM" YU12,UYVY
case "$VCAM" in
/org/camerad/Camera1/camera/*) result virtual-camera-listed PASS "$VCAM" ;;
*) result virtual-camera-listed FAIL "$VCAM" ;;
esac

# 4. Sessions with preview + video; the recordings go to the data disk.
if check session-yuyv vivid-client session "$CAM" YUYV 640x480 6 /tmp/rec-yuyv.avi; then
        save recording-yuyv /tmp/rec-yuyv.avi 0
fi
if check session-nv12 vivid-client session "$CAM" NV12 640x480 6 /tmp/rec-nv12.avi; then
        save recording-nv12 /tmp/rec-nv12.avi 64
fi
if check session-yu12 vivid-client session "$CAM" YU12 640x480 6 /tmp/rec-yu12.avi; then
        save recording-yu12 /tmp/rec-yu12.avi 128
fi
rm -f /tmp/rec-*.avi
if check session-uyvy vivid-client session "$CAM" UYVY 640x480 6 /tmp/rec-uyvy.avi; then
        save recording-uyvy /tmp/rec-uyvy.avi 192
fi

# 4b. The MJPEG cameras on v4l2loopback: listed with the fed size, previewed (decoded) and
# recorded; the host compares the recordings' frames with the fed JPEGs byte for byte.
# loopback_camera SUFFIX ID NODE WxH SECONDS DISK-OFFSET-MIB
loopback_camera() {
        lcam=$(timeout 60 vivid-client find-camera "$2" | tail -n 1)
        case "$lcam" in
        /org/camerad/Camera1/camera/*)
                result "loopback-listed$1" PASS "$lcam $(busctl get-property org.camerad.Camera1 "$lcam" \
                        org.camerad.Camera1.Camera Name 2>&1)"
                check "loopback-formats$1" vivid-client check-formats "$3" "$lcam" MJPG
                if check "session-mjpeg$1" vivid-client session "$lcam" MJPG "$4" "$5" /tmp/rec-mjpeg.avi; then
                        save "recording-mjpeg$1" /tmp/rec-mjpeg.avi "$6"
                fi
                rm -f /tmp/rec-mjpeg.avi
                ;;
        *)
                result "loopback-listed$1" FAIL "$lcam"
                ;;
        esac
}
loopback_camera "" v4l2:platform:v4l2loopback-000 $LOOP 1280x720 8 256
loopback_camera -1080p v4l2:platform:v4l2loopback-001 $LOOP_1080P 1920x1080 6 320

# 4c. vivid's controls set through camerad, read back with the kernel's own view, and seen
# in the preview frames.
check controls-listed vivid-client controls-listed $DEV "$CAM"
check controls-picture vivid-client controls-picture $DEV "$CAM"
check controls-flip vivid-client controls-flip $DEV "$CAM"
check controls-autogain vivid-client controls-autogain $DEV "$CAM"
check controls-invalid vivid-client controls-invalid $DEV "$CAM"
# A change made outside camerad (v4l2-ctl) while streaming reaches D-Bus as PropertiesChanged.
check controls-events vivid-client controls-events $DEV "$CAM"
# v4l2-ctl (v4l-utils) reads back what a SetControls set; defaults go back afterwards.
want="brightness: 90
contrast: 110
horizontal_flip: 1
hue: -20
saturation: 140
vertical_flip: 1"
if out=$(timeout 60 vivid-client set-controls "$CAM" brightness=90 contrast=110 saturation=140 hue=-20 \
        horizontal-flip=true vertical-flip=true 2>&1); then
        got=$(v4l2-ctl -d $DEV -C brightness,contrast,saturation,hue,horizontal_flip,vertical_flip 2>&1 | sort)
        if [ "$got" = "$want" ]; then
                result controls-v4l2-ctl PASS "v4l2-ctl -C after SetControls: $(echo $got)"
        else
                result controls-v4l2-ctl FAIL "v4l2-ctl -C after SetControls: $(echo $got); want $(echo $want)"
        fi
else
        result controls-v4l2-ctl FAIL "set-controls: $(echo "$out" | tail -n 1)"
fi
timeout 60 vivid-client set-controls "$CAM" brightness=128 contrast=128 saturation=128 hue=0 \
        horizontal-flip=false vertical-flip=false >/dev/null 2>&1

# 5. vivid's fault controls. The disconnect goes last: it unregisters vivid's nodes for good.
check fault-streamon-error vivid-client fault-streamon $DEV "$CAM" YUYV 640x480
check fault-dropped-buffers vivid-client fault-dropped $DEV "$CAM" YUYV 640x480 6
check fault-disconnect vivid-client fault-disconnect $DEV "$CAM" "$VCAM" YUYV 640x480

# 6. Hot-plug. vivid's disconnect leaves /dev/video0 in place (its ioctls just fail), so
# the node goes with rmmod: then the camera object must vanish. Loading vivid again brings
# a new camera that streams.
if rmmod vivid 2>/tmp/rmmod.err; then
        check hotplug-removed vivid-client wait-camera-gone "$CAM" 15
        if insmod /lib/modules/vivid.ko 2>/tmp/insmod.err; then
                NEWCAM=$(timeout 60 vivid-client find-camera v4l2:platform:vivid-000 | tail -n 1)
                case "$NEWCAM" in
                "$CAM") result hotplug-added FAIL "the new vivid camera reuses the old path $CAM" ;;
                /org/camerad/Camera1/camera/*)
                        result hotplug-added PASS "vivid loaded again: $NEWCAM"
                        check hotplug-session vivid-client session "$NEWCAM" YUYV 640x480 3
                        ;;
                *) result hotplug-added FAIL "after loading vivid again: $NEWCAM" ;;
                esac
        else
                result hotplug-added FAIL "insmod vivid.ko: $(cat /tmp/insmod.err)"
        fi
else
        result hotplug-removed FAIL "rmmod vivid: $(cat /tmp/rmmod.err)"
fi

finish
