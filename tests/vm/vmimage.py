# SPDX-License-Identifier: MIT
"""Builds what the vivid VM boots: Debian 12's kernel (fetched with apt-get download and
cached), the module load order (from each module's .modinfo, since the package ships no
modules.dep) and an initramfs (newc cpio written here, so device nodes need no root)."""

import glob
import lzma
import os
import re
import shutil
import struct
import subprocess


class VmError(Exception):
    """Something the VM needs is missing or broken: a test failure, never a skip."""


def run(cmd, **kwargs):
    p = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if p.returncode != 0:
        raise VmError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    return p.stdout


# ---- kernel package -------------------------------------------------------------------

def _newest(paths):
    return sorted(paths, key=os.path.getmtime)[-1] if paths else None


def download_kernel(cache_dir):
    """The linux-image-6.1.0-N-amd64 .deb that linux-image-amd64 depends on, downloaded
    with apt-get into cache_dir once; later runs reuse both .debs (same kernel, offline)."""
    os.makedirs(cache_dir, exist_ok=True)
    meta = _newest(glob.glob(os.path.join(cache_dir, "linux-image-amd64_*.deb")))
    if not meta:
        try:
            run(["apt-get", "download", "linux-image-amd64"], cwd=cache_dir)
        except VmError as e:
            raise VmError(f"{e} (run 'apt-get update' once first)") from e
        meta = _newest(glob.glob(os.path.join(cache_dir, "linux-image-amd64_*.deb")))
        if not meta:
            raise VmError("apt-get download linux-image-amd64 left no .deb")
    depends = run(["dpkg-deb", "-f", meta, "Depends"]).strip()
    m = re.match(r"(linux-image-[0-9.]+-[0-9]+-amd64)(?: \(= ([^)]+)\))?", depends)
    if not m:
        raise VmError(f"unexpected Depends in {os.path.basename(meta)}: {depends}")
    package, version = m.group(1), m.group(2)
    image = _newest(glob.glob(os.path.join(cache_dir, f"{package}_*.deb")))
    if not image:
        spec = f"{package}={version}" if version else package
        run(["apt-get", "download", spec], cwd=cache_dir)
        image = _newest(glob.glob(os.path.join(cache_dir, f"{package}_*.deb")))
        if not image:
            raise VmError(f"apt-get download {spec} left no .deb")
    return image


def prepare_kernel(cache_dir, wanted):
    """Returns (vmlinuz, [(module name, .ko path)] in insmod order). Only the kernel and
    the modules needed are kept out of the package (all of it is 400 MB unpacked)."""
    image = download_kernel(cache_dir)
    root = os.path.join(cache_dir, os.path.basename(image)[:-4])
    marker = os.path.join(root, ".complete")
    key = " ".join(wanted)
    if not os.path.exists(marker) or open(marker).read() != key:
        shutil.rmtree(root, ignore_errors=True)
        unpacked = root + ".unpacked"
        shutil.rmtree(unpacked, ignore_errors=True)
        run(["dpkg-deb", "-x", image, unpacked])
        vmlinuz = _newest(glob.glob(os.path.join(unpacked, "boot", "vmlinuz-*")))
        modules_dirs = glob.glob(os.path.join(unpacked, "lib", "modules", "*"))
        if not vmlinuz or len(modules_dirs) != 1:
            raise VmError(f"{image} has no vmlinuz or not exactly one modules directory")
        order = module_load_order(modules_dirs[0], wanted)
        os.makedirs(os.path.join(root, "modules"))
        shutil.copy(vmlinuz, os.path.join(root, "vmlinuz"))
        for name, path in order:
            # Decompressed here: busybox insmod may not read .ko.xz.
            with open(os.path.join(root, "modules", f"{name}.ko"), "wb") as f:
                f.write(_read_module(path))
        with open(os.path.join(root, "order"), "w") as f:
            f.write("".join(f"{name}\n" for name, _ in order))
        shutil.rmtree(unpacked)
        with open(marker, "w") as f:
            f.write(key)
    names = open(os.path.join(root, "order")).read().split()
    return (os.path.join(root, "vmlinuz"),
            [(n, os.path.join(root, "modules", f"{n}.ko")) for n in names])


# ---- v4l2loopback, built against the VM kernel's headers ------------------------------

def _download(cache_dir, pattern, spec):
    """The cached .deb matching pattern, fetched with apt-get download spec once."""
    found = _newest(glob.glob(os.path.join(cache_dir, pattern)))
    if not found:
        run(["apt-get", "download", spec], cwd=cache_dir)
        found = _newest(glob.glob(os.path.join(cache_dir, pattern)))
        if not found:
            raise VmError(f"apt-get download {spec} left no .deb")
    return found


def _depends_on(deb, prefix):
    """(package, version) of the dependency of deb whose name starts with prefix."""
    for dep in run(["dpkg-deb", "-f", deb, "Depends"]).split(","):
        m = re.match(r"\s*(" + re.escape(prefix) + r"\S*)(?: \([=>]+ ([^)]+)\))?", dep)
        if m:
            return m.group(1), m.group(2)
    raise VmError(f"{os.path.basename(deb)} does not depend on {prefix}*")


def build_loopback(cache_dir):
    """v4l2loopback.ko from Debian's v4l2loopback-dkms source, built (once per kernel)
    against linux-headers-<release> of the kernel prepare_kernel boots. The headers and
    linux-kbuild are unpacked into cache_dir, never installed; the headers' Makefile names
    the common headers by their installed path, so it is pointed at the unpacked copy."""
    image = download_kernel(cache_dir)
    package = os.path.basename(image).split("_")[0]          # linux-image-6.1.0-N-amd64
    release = package[len("linux-image-"):]                  # 6.1.0-N-amd64
    version = run(["dpkg-deb", "-f", image, "Version"]).strip()
    dkms = _download(cache_dir, "v4l2loopback-dkms_*.deb", "v4l2loopback-dkms")
    dkms_version = run(["dpkg-deb", "-f", dkms, "Version"]).strip()
    root = os.path.join(cache_dir, f"v4l2loopback-{dkms_version}-{release}")
    ko = os.path.join(root, "v4l2loopback.ko")
    if os.path.exists(os.path.join(root, ".complete")):
        return ko

    headers = _download(cache_dir, f"linux-headers-{release}_{version}_*.deb",
                        f"linux-headers-{release}={version}")
    common, common_version = _depends_on(headers, f"linux-headers-{release.rsplit('-', 1)[0]}-common")
    kbuild, _ = _depends_on(headers, "linux-kbuild-")
    debs = [headers, dkms,
            _download(cache_dir, f"{common}_{common_version or version}_*.deb",
                      f"{common}={common_version or version}"),
            # Built from the same kernel source upload, so the same version.
            _download(cache_dir, f"{kbuild}_{version}_*.deb", f"{kbuild}={version}")]
    shutil.rmtree(root, ignore_errors=True)
    tree = os.path.join(root, "tree")
    os.makedirs(tree)
    for deb in debs:
        run(["dpkg-deb", "-x", deb, tree])
    hdir = os.path.join(tree, "usr", "src", f"linux-headers-{release}")
    cdir = os.path.join(tree, "usr", "src", common)
    with open(os.path.join(hdir, "Makefile")) as f:
        makefile = f.read()
    if f"/usr/src/{common}/Makefile" not in makefile:
        raise VmError(f"unexpected {hdir}/Makefile: {makefile.strip()[:200]}")
    with open(os.path.join(hdir, "Makefile"), "w") as f:
        f.write(makefile.replace(f"/usr/src/{common}/", cdir + "/"))
    srcs = glob.glob(os.path.join(tree, "usr", "src", "v4l2loopback-*"))
    if len(srcs) != 1:
        raise VmError(f"{os.path.basename(dkms)} has no single usr/src/v4l2loopback-* source")
    src = os.path.join(root, "src")
    shutil.copytree(srcs[0], src)
    run(["make", "-C", hdir, f"M={src}", "modules"])
    info = _modinfo(open(os.path.join(src, "v4l2loopback.ko"), "rb").read())
    if info.get("vermagic", "").split(" ")[0] != release:
        raise VmError(f"v4l2loopback.ko has vermagic {info.get('vermagic')!r}, kernel is {release}")
    shutil.copy(os.path.join(src, "v4l2loopback.ko"), ko)
    shutil.rmtree(tree)
    shutil.rmtree(src)
    with open(os.path.join(root, ".complete"), "w") as f:
        f.write(release)
    return ko


def module_depends(path):
    """The modules path's .modinfo says it needs."""
    return [d.replace("-", "_") for d in _modinfo(_read_module(path)).get("depends", "").split(",") if d]


# ---- modules --------------------------------------------------------------------------

def _read_module(path):
    data = open(path, "rb").read()
    if path.endswith(".xz"):
        data = lzma.decompress(data)
    elif path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return data


def _modinfo(data):
    """The key=value strings of an ELF64 module's .modinfo section."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise VmError("not an ELF64 module")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i):
        name, _type, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] == b".modinfo":
            info = {}
            for entry in data[off:off + size].split(b"\0"):
                if b"=" in entry:
                    k, v = entry.decode(errors="replace").split("=", 1)
                    info.setdefault(k, v)
            return info
    raise VmError("module without .modinfo")


def module_load_order(modules_dir, wanted):
    """[(name, path)] in insmod order for the wanted modules and their dependencies."""
    index = {}
    for dirpath, _, files in os.walk(os.path.join(modules_dir, "kernel")):
        for f in files:
            m = re.match(r"(.+)\.ko(\.xz|\.zst)?$", f)
            if m:
                index[m.group(1).replace("-", "_")] = os.path.join(dirpath, f)
    builtin = set()
    builtin_file = os.path.join(modules_dir, "modules.builtin")
    if os.path.exists(builtin_file):
        for line in open(builtin_file):
            builtin.add(os.path.basename(line.strip()).split(".ko")[0].replace("-", "_"))

    order, visiting = [], set()

    def visit(name):
        if name in builtin or any(n == name for n, _ in order):
            return
        if name in visiting:
            raise VmError(f"module dependency cycle at {name}")
        if name not in index:
            raise VmError(f"module {name} is neither in the package nor built in")
        visiting.add(name)
        deps = _modinfo(_read_module(index[name])).get("depends", "")
        for dep in filter(None, deps.split(",")):
            visit(dep.replace("-", "_"))
        visiting.discard(name)
        order.append((name, index[name]))

    for name in wanted:
        visit(name)
    return order


# ---- initramfs ------------------------------------------------------------------------

def shared_libraries(binary):
    """Absolute paths of the libraries ldd finds for binary (none for static ones)."""
    p = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if p.returncode != 0:
        if "not a dynamic executable" in p.stdout + p.stderr:
            return []
        raise VmError(f"ldd {binary}: {p.stderr.strip()}")
    libs = []
    for line in p.stdout.splitlines():
        if "not found" in line:
            raise VmError(f"ldd {binary}: {line.strip()}")
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


class Cpio:
    """newc archive built in memory order; directories are added as needed."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.ino += 1
        self.f.write(b"070701" + b"".join(b"%08X" % v for v in fields))
        self.f.write(name_b + b"\0" * ((-(110 + len(name_b))) % 4))
        self.f.write(data + b"\0" * ((-len(data)) % 4))

    def dir(self, path):
        path = path.strip("/")
        if not path or path in self.dirs:
            return
        self.dir(os.path.dirname(path))
        self.dirs.add(path)
        self._entry(path, 0o040755)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self._entry(path, 0o100000 | mode, data)

    def chardev(self, path, major, minor):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self._entry(path, 0o020600, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0)
        self.f.close()


def build_initramfs(out_path, init_script, bus_config, binaries, modules, files=None):
    """binaries: {path inside the image: host path}; modules: [(name, host path)] loaded in
    that order by /init; files: {path inside the image: host path} copied as they are."""
    tmp = out_path + ".tmp"
    cpio = Cpio(tmp)
    for d in ("dev", "proc", "sys", "run", "tmp", "root", "var/lib/camerad"):
        cpio.dir(d)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3)
    cpio.file("init", open(init_script, "rb").read(), 0o755)
    cpio.file("etc/vm-bus.conf", open(bus_config, "rb").read())
    cpio.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    cpio.file("etc/group", b"root:x:0:\n")
    cpio.file("etc/machine-id", b"5b5d7a0c3b1e4c0f9a6d2e8f7c1b3a49\n")

    libs = set()
    for inside, host in binaries.items():
        cpio.file(inside, open(host, "rb").read(), 0o755)
        libs.update(shared_libraries(host))
    for lib in sorted(libs):
        # Kept at the path ldd printed: the loader and RUNPATHs look there.
        cpio.file(lib, open(os.path.realpath(lib), "rb").read(), 0o755)

    names = []
    for name, path in modules:
        cpio.file(f"lib/modules/{name}.ko", _read_module(path))
        names.append(f"{name}.ko")
    cpio.file("etc/vm-modules", ("\n".join(names) + "\n").encode())
    for inside, host in (files or {}).items():
        cpio.file(inside, open(host, "rb").read())
    cpio.close()
    os.replace(tmp, out_path)
    return {"libraries": len(libs), "modules": len(names), "bytes": os.path.getsize(out_path)}


def make_disk(path, size_mib):
    with open(path, "wb") as f:
        f.truncate(size_mib << 20)
