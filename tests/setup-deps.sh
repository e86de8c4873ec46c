#!/usr/bin/env bash
# Installs everything camerad needs to build, run and test, from Debian 12's archive.
# Idempotent and quiet when all is there already. Run as root.
set -euo pipefail

packages=(
        # build
        build-essential meson ninja-build pkg-config
        libsystemd-dev libv4l-dev libturbojpeg0-dev libcjson-dev libexif-dev
        libpolkit-gobject-1-dev libdbus-1-dev bash-completion scdoc
        # DTDs the packaging test validates against
        polkitd dbus-1-doc
        # run and integration tests
        dbus-daemon dbus systemd python3 python3-dbus python3-dbusmock python3-gi
        util-linux
        # checking outputs with tools nobody here wrote
        libjpeg-turbo-progs ffmpeg libxml2-utils libimage-exiftool-perl v4l-utils
        # a person's view of the preview: ffplay in a virtual X server
        xvfb
        # the PipeWire bridge and its suite: pipewire, wireplumber, pipewiresrc
        libpipewire-0.3-dev pipewire-bin libspa-0.2-modules wireplumber
        gstreamer1.0-tools gstreamer1.0-pipewire gstreamer1.0-plugins-base
        gstreamer1.0-plugins-good
        # sanitizers, valgrind, fuzzing
        valgrind clang libclang-rt-14-dev
        # the vivid kernel test
        qemu-system-x86 busybox-static cpio xz-utils zstd kmod
        # building v4l2loopback (apt-get download'ed source and headers) for its kernel:
        # gcc-12 as the headers name it, and what the linux-kbuild tools link against
        make gcc-12 libelf1 libssl3
)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
                echo "setup-deps: missing packages (${missing[*]}); run as root to install them" >&2
                exit 1
        fi
        echo "setup-deps: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The vivid test fetches the kernel package with apt-get download, which needs the lists.
if [ "$(id -u)" -eq 0 ] && ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
        apt-get update -qq
fi
