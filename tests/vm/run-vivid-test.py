#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The vivid kernel test: boots Debian 12's kernel under qemu (software emulation) with an
initramfs holding camerad, runs tests/vm/vm-init.sh inside and checks the results it prints
on the serial console, plus the recordings it leaves on a second disk (with ffprobe).

Exit status: 0 all checks passed, 1 a check failed or was missing or the VM timed out,
77 (skip) only when qemu-system-x86_64 is not installed."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmimage  # noqa: E402

# Every line the VM must print, in order; the host adds the recording checks.
VM_CHECKS = [
    "modules", "video-node", "kernel-probe", "kernel-stream", "kernel-controls",
    "loopback-module", "loopback-feed", "loopback-probe", "loopback-feed-1080p",
    "loopback-probe-1080p", "daemon",
    "camera-listed", "camera-formats", "camera-formats-yu12-uyvy", "virtual-camera-listed",
    "session-yuyv", "session-nv12", "session-yu12", "session-uyvy",
    "loopback-listed", "loopback-formats", "session-mjpeg",
    "loopback-listed-1080p", "loopback-formats-1080p", "session-mjpeg-1080p",
    "controls-listed", "controls-picture", "controls-flip", "controls-autogain", "controls-invalid",
    "controls-events", "controls-v4l2-ctl",
    "fault-streamon-error", "fault-dropped-buffers", "fault-disconnect", "hotplug-removed",
    "hotplug-added", "hotplug-session", "daemon-alive", "daemon-exit",
]
# Recording name: (the VM check that made it, its size, fed frames it must be made of).
RECORDINGS = {
    "recording-yuyv": ("session-yuyv", (640, 480), None),
    "recording-nv12": ("session-nv12", (640, 480), None),
    "recording-yu12": ("session-yu12", (640, 480), None),
    "recording-uyvy": ("session-uyvy", (640, 480), None),
    "recording-mjpeg": ("session-mjpeg", (1280, 720), "1280x720"),
    "recording-mjpeg-1080p": ("session-mjpeg-1080p", (1920, 1080), "1920x1080"),
}
# The JPEGs fed into v4l2loopback (tests/vm/loopback-feeder.c), made here with ffmpeg.
FED_SIZES = ["1280x720", "1920x1080"]
FED_FRAMES = 30
WANTED_MODULES = ["virtio_pci", "virtio_blk", "vivid"]
DISK_MIB = 64 * len(RECORDINGS)

RESULT_RE = re.compile(r"VIVID-TEST: (\S+): (PASS|FAIL) ?(.*)")
DATA_RE = re.compile(r"VIVID-DATA: (\S+) offset=(\d+) size=(\d+)")
RECORDED_RE = re.compile(r"over ([0-9.]+) s")


def log(msg):
    print(f"[vivid] {msg}", flush=True)


def make_fed_frames(work):
    """{size: [JPEG paths]}: ffmpeg's testsrc2 as 4:2:2 JPEGs (what a UVC camera sends),
    made once per work directory."""
    if not shutil.which("ffmpeg"):
        raise vmimage.VmError("ffmpeg is not installed (it makes the frames fed to v4l2loopback)")
    sets = {}
    for size in FED_SIZES:
        folder = os.path.join(work, f"fed-{size}")
        paths = [os.path.join(folder, f"f{i:03d}.jpg") for i in range(1, FED_FRAMES + 1)]
        if not all(os.path.exists(p) for p in paths):
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            vmimage.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
                         "-frames:v", str(FED_FRAMES), "-c:v", "mjpeg", "-pix_fmt", "yuvj422p",
                         os.path.join(folder, "f%03d.jpg")])
        sets[size] = paths
    return sets


def build_image(args, work):
    cache = args.cache_dir or os.path.join(work, "cache")
    vmlinuz, modules = vmimage.prepare_kernel(cache, WANTED_MODULES)
    log(f"kernel {vmlinuz}")
    log("modules: " + " ".join(n for n, _ in modules))
    files = {}
    # Without v4l2loopback the VM still runs the vivid checks; the loopback ones fail.
    try:
        loopback = vmimage.build_loopback(cache)
        missing = set(vmimage.module_depends(loopback)) - {n for n, _ in modules}
        if missing:
            raise vmimage.VmError(f"v4l2loopback needs {', '.join(sorted(missing))}, not loaded for vivid")
        log(f"v4l2loopback {loopback}")
        files["lib/modules/v4l2loopback.ko"] = loopback
    except vmimage.VmError as e:
        args.loopback_error = str(e)
        log(f"v4l2loopback not built: {e}")
    for size, paths in make_fed_frames(work).items():
        files.update({f"fed/{size}/{os.path.basename(p)}": p for p in paths})
    binaries = {
        "bin/busybox": shutil.which("busybox") or "/bin/busybox",
        "usr/bin/dbus-daemon": shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon",
        "usr/bin/busctl": shutil.which("busctl") or "/usr/bin/busctl",
        "usr/local/bin/vivid-client": args.client,
        "usr/local/bin/loopback-feeder": args.feeder,
        "usr/bin/v4l2-ctl": shutil.which("v4l2-ctl") or "/usr/bin/v4l2-ctl",
    }
    if args.camerad:
        binaries["usr/local/bin/camerad"] = args.camerad
    for inside, host in binaries.items():
        if not os.path.isfile(host):
            raise vmimage.VmError(f"{host} (for /{inside}) does not exist")
    initramfs = os.path.join(work, "initramfs.cpio")
    stats = vmimage.build_initramfs(initramfs, args.init, args.bus_config, binaries, modules, files)
    log(f"initramfs: {stats['bytes'] >> 20} MiB, {stats['libraries']} libraries, "
        f"{stats['modules']} modules")
    return vmlinuz, initramfs


def boot(args, vmlinuz, initramfs, disk, console_log):
    """Runs qemu; returns (console lines, timed_out)."""
    cmd = [args.qemu, "-nographic", "-no-reboot", "-m", "1024", "-smp", str(args.smp),
           "-accel", "tcg", "-nic", "none",
           "-kernel", vmlinuz, "-initrd", initramfs,
           # no_timer_check: on a loaded host the emulated timer can miss the kernel's IO-APIC
           # timer test ("MP-BIOS bug: 8254 timer not connected"), which may end in a panic.
           "-append", "console=ttyS0 quiet panic=-1 no_timer_check",
           "-drive", f"file={disk},format=raw,if=virtio"]
    log(" ".join(cmd))
    lines = []
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def reader():
        with open(console_log, "w") as out:
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                lines.append(line)
                out.write(line + "\n")
                out.flush()
                print(line, flush=True)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    timed_out = False
    try:
        proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    t.join(timeout=5)
    return lines, timed_out


def probe_recording(path, wall_seconds, size):
    """ffprobe checks of one recording; returns (ok, detail)."""
    if not shutil.which("ffprobe"):
        return False, "ffprobe is not installed"
    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                        "-show_entries",
                        "stream=codec_name,width,height,nb_frames,nb_read_frames,avg_frame_rate,duration",
                        "-of", "json", path], capture_output=True, text=True)
    if p.returncode != 0 or p.stderr.strip():
        return False, f"ffprobe: {p.stderr.strip()[:300]}"
    streams = json.loads(p.stdout).get("streams", [])
    if not streams:
        return False, "ffprobe found no video stream"
    s = streams[0]
    frames = int(s.get("nb_frames", 0) or 0)
    decoded = int(s.get("nb_read_frames", 0) or 0)
    duration = float(s.get("duration", 0) or 0)
    num, _, den = s.get("avg_frame_rate", "0/1").partition("/")
    fps = float(num) / float(den) if float(den or 0) else 0.0
    detail = (f"{s.get('codec_name')} {s.get('width')}x{s.get('height')} {frames} frames "
              f"(decoded {decoded}) {duration:.2f} s at {fps:.2f} fps, recorded for {wall_seconds:.2f} s")
    problems = []
    if s.get("codec_name") != "mjpeg":
        problems.append("codec is not mjpeg")
    if (s.get("width"), s.get("height")) != size:
        problems.append("size is not %dx%d" % size)
    if frames <= 0:
        problems.append("no frames")
    if decoded != frames:
        problems.append("decoded frame count differs from the header's")
    if fps <= 0 or abs(duration * fps - frames) > max(1.0, 0.05 * frames):
        problems.append("duration x rate does not match the frame count")
    if wall_seconds > 0 and not (0.5 * wall_seconds <= duration <= 1.2 * wall_seconds + 0.5):
        problems.append("duration far from the recording time")
    return not problems, detail + ("; " + ", ".join(problems) if problems else "")


def check_passthrough(path, fed, work):
    """Every frame of the recording, as ffmpeg copies it out (-c copy), is byte for byte one
    of the fed JPEGs, and ffmpeg decodes the whole file without an error."""
    out = os.path.join(work, os.path.basename(path)[:-4] + "-frames")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-c", "copy",
                        "-f", "image2", os.path.join(out, "out%04d.jpg")], capture_output=True, text=True)
    if p.returncode != 0:
        return False, f"ffmpeg -c copy failed: {p.stderr.strip()[:300]}"
    fed_bytes = {}
    for i, f in enumerate(fed):
        fed_bytes.setdefault(open(f, "rb").read(), i + 1)
    got = sorted(os.listdir(out))
    seen, strangers = [], []
    for name in got:
        index = fed_bytes.get(open(os.path.join(out, name), "rb").read())
        (seen if index else strangers).append(index or name)
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"],
                       capture_output=True, text=True)
    decode_errors = p.stderr.strip() if p.returncode == 0 else f"exit {p.returncode}: {p.stderr.strip()}"
    # Not a pass condition (the loopback node keeps two buffers, so a late reader loses
    # frames in the kernel too), but said: how many fed frames went missing between two
    # recorded ones.
    skipped = sum((b - a - 1) % len(fed) for a, b in zip(seen, seen[1:]))
    detail = (f"{len(got)} frames copied out, {len(seen)} equal to a fed JPEG "
              f"({len(set(seen))} distinct of {len(fed)} fed; {skipped} fed frames skipped between them)")
    problems = []
    if not got:
        problems.append("no frames")
    if strangers:
        problems.append(f"{len(strangers)} frames equal no fed JPEG (first {strangers[0]})")
    if len(set(seen)) < min(2, len(got)):
        problems.append("the same fed frame over and over")
    if decode_errors:
        problems.append(f"ffmpeg decoding: {decode_errors[:300]}")
    return not problems, detail + ("; " + ", ".join(problems) if problems else "")


def check_recordings(lines, results, disk, work, fed_frames):
    data, notes = {}, {}
    for line in lines:
        m = DATA_RE.search(line)
        if m:
            data[m.group(1)] = (int(m.group(2)), int(m.group(3)))
        elif "VIVID-DATA: " in line:
            name, _, note = line.split("VIVID-DATA: ", 1)[1].partition(" ")
            notes[name] = note
    for name, (session, picture_size, fed) in RECORDINGS.items():
        if name not in data:
            why = notes.get(name) or f"{session}: {results.get(session, ('missing',))[0]}"
            results[name] = ("FAIL", f"no recording copied out ({why})")
            continue
        offset, size = data[name]
        path = os.path.join(work, f"{name}.avi")
        with open(disk, "rb") as f:
            f.seek(offset)
            blob = f.read(size)
        with open(path, "wb") as f:
            f.write(blob)
        m = RECORDED_RE.search(results.get(session, ("", ""))[1])
        ok, detail = probe_recording(path, float(m.group(1)) if m else 0.0, picture_size)
        if fed:
            fed_ok, fed_detail = check_passthrough(path, fed_frames[fed], work)
            ok, detail = ok and fed_ok, f"{detail}; {fed_detail}"
        results[name] = ("PASS" if ok else "FAIL", detail)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--camerad", default="", help="the daemon binary ('' = not built)")
    ap.add_argument("--client", required=True)
    ap.add_argument("--feeder", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--bus-config", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--cache-dir", default="", help="where the kernel .debs are kept")
    ap.add_argument("--timeout", type=int, default=600, help="seconds for the whole boot")
    ap.add_argument("--smp", type=int, default=2)
    args = ap.parse_args()

    args.loopback_error = ""
    args.qemu = shutil.which("qemu-system-x86_64")
    if not args.qemu:
        print("qemu-system-x86_64 is not installed: skipping the vivid test")
        return 77

    started = time.monotonic()
    work = os.path.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    results = {}
    try:
        vmlinuz, initramfs = build_image(args, work)
    except vmimage.VmError as e:
        print(f"VIVID-TEST: image: FAIL {e}")
        return 1
    disk = os.path.join(work, "vivid-data.img")
    vmimage.make_disk(disk, DISK_MIB)

    boot_started = time.monotonic()
    lines, timed_out = boot(args, vmlinuz, initramfs, disk, os.path.join(work, "vivid-console.log"))
    boot_seconds = time.monotonic() - boot_started
    ended = any(line.startswith("VIVID-TEST-END") for line in lines)
    for line in lines:
        m = RESULT_RE.search(line)
        if m and m.group(1) not in results:
            results[m.group(1)] = (m.group(2), m.group(3))
    if args.loopback_error:
        results["loopback-module"] = ("FAIL", f"v4l2loopback not built: {args.loopback_error}")
    check_recordings(lines, results, disk, work, make_fed_frames(work))

    print("\n==== vivid test summary ====")
    failed = 0
    for name in VM_CHECKS + list(RECORDINGS):
        status, detail = results.get(name, ("MISSING", "no result line"))
        failed += status != "PASS"
        print(f"{status:7} {name}: {detail}")
    for name in sorted(set(results) - set(VM_CHECKS) - set(RECORDINGS)):
        print(f"{results[name][0]:7} {name} (unexpected): {results[name][1]}")
        failed += results[name][0] != "PASS"
    if timed_out:
        print(f"FAIL    the VM did not finish within {args.timeout} s")
        failed += 1
    elif not ended:
        print("FAIL    the VM stopped without VIVID-TEST-END (crash or panic?)")
        failed += 1
    print(f"vm run {boot_seconds:.0f} s, total {time.monotonic() - started:.0f} s; "
          f"console log: {os.path.join(work, 'vivid-console.log')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
