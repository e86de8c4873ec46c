# SPDX-License-Identifier: MIT
"""Integration-test harness for camerad.

Every integration test imports this module and ends with `camerad_test.main()`.

What a test case gets (class CameradTestCase):
  - a private dbus-daemon whose default policy is the system bus's (generated from
    /usr/share/dbus-1/system.conf: deny own and method calls by default) and which
    includes dbus/org.camerad.Camera1.conf from the source tree; one per test class;
  - python-dbusmock's polkitd template on it (self.polkit_allow([...]) sets the allowed
    actions; nothing is allowed at the start of each test);
  - camerad from the build tree (env CAMERAD_BIN) started in setUp with
    --address=... --state-dir=<fresh tmp> --virtual-cameras=1 --no-v4l2 --verbose,
    prefixed by env CAMERAD_WRAPPER if set (e.g. "valgrind --error-exitcode=99
    --leak-check=full"); stopped in tearDown with SIGTERM, asserting exit 0 and a clean
    sanitizer/valgrind log. Set `start_daemon_in_setup = False` on a class to start it
    by hand (self.start_daemon()); self.kill9() and self.restart_daemon() keep the
    state dir;
  - self.bus: a dbus-python connection (as root) with a GLib main loop for signals;
    self.call_as(uid, path, iface, method, signature, *args): the same call made by a
    process running as `uid` (setpriv), returning a CallResult;
  - assertDBusError(name, code_prefix, callable, *args).

Environment set by meson: CAMERAD_BIN, CAMCTL_BIN, CAMERAD_SOURCE_ROOT,
CAMERAD_BUILD_ROOT. Exit code 77 (skip) when dbus-daemon or python-dbusmock is missing.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

SKIP_EXIT = 77

try:
    import dbus
    import dbus.mainloop.glib
    import dbusmock
    from gi.repository import GLib
except ImportError as e:  # never in CI: the packages are installed there
    print(f'SKIP: python3-dbus / python3-dbusmock / python3-gi missing: {e}', file=sys.stderr)
    sys.exit(SKIP_EXIT)

DBUS_DAEMON = shutil.which('dbus-daemon')
if DBUS_DAEMON is None:
    print('SKIP: dbus-daemon missing', file=sys.stderr)
    sys.exit(SKIP_EXIT)

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)


def _links_asan(binary):
    try:
        out = subprocess.run(['ldd', binary], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return 'libasan' in out

# Re-exported so tests need only `import camerad_test`.
from callas import CallResult, FdArg, call_as, run_as  # noqa: E402,F401
from media_check import djpeg_decodes, ffprobe_frames, make_mjpeg_avi, read_fd  # noqa: E402,F401

PYTHON = '/usr/bin/python3'
BUS_NAME = 'org.camerad.Camera1'
ROOT_PATH = '/org/camerad/Camera1'
IFACE_PREFIX = 'org.camerad.Camera1.'
ERROR_PREFIX = 'org.camerad.Camera1.Error.'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
NOBODY = 65534

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get('CAMERAD_SOURCE_ROOT') or os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.environ.get('CAMERAD_BUILD_ROOT', '')
CAMERAD_BIN = os.environ.get('CAMERAD_BIN', '')
CAMCTL_BIN = os.environ.get('CAMCTL_BIN', '')
POLICY_FILE = os.path.join(SOURCE_ROOT, 'dbus', 'org.camerad.Camera1.conf')
SYSTEM_CONF = '/usr/share/dbus-1/system.conf'

# The system bus default policy (dbus 1.14 system.conf), used when system.conf is absent.
_FALLBACK_DEFAULT_POLICY = '''
<policy context="default">
  <allow user="*"/>
  <deny own="*"/>
  <deny send_type="method_call"/>
  <allow send_type="signal"/>
  <allow send_requested_reply="true" send_type="method_return"/>
  <allow send_requested_reply="true" send_type="error"/>
  <allow receive_type="method_call"/>
  <allow receive_type="method_return"/>
  <allow receive_type="error"/>
  <allow receive_type="signal"/>
  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  <allow send_destination="org.freedesktop.DBus"
         send_interface="org.freedesktop.DBus.Introspectable"/>
  <allow send_destination="org.freedesktop.DBus"
         send_interface="org.freedesktop.DBus.Properties"/>
  <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
        send_member="UpdateActivationEnvironment"/>
</policy>
'''

# What the test bus adds on top of the system policy: the polkitd mock (run by the root
# test process) may own polkit's name, and anyone may call it, as polkit's own
# system.d file allows on a real system.
_POLKIT_POLICY = '''
<policy user="root">
  <allow own="org.freedesktop.PolicyKit1"/>
</policy>
<policy context="default">
  <allow send_destination="org.freedesktop.PolicyKit1"/>
</policy>
'''


def system_bus_config(socket_path, policy_file=POLICY_FILE):
    """A dbus-daemon configuration with the system bus's policies.

    Takes every <policy> and <limit> of system.conf (deny-by-default for owning names and
    for method calls) and drops what would make it *the* system bus: <user>, <fork>,
    <pidfile>, <syslog>, the service helper, service dirs, <listen> and the system.d
    includes. Our dbus/*.conf is included from the source tree."""
    policies = []
    try:
        root = ET.parse(SYSTEM_CONF).getroot()
        for el in root:
            if el.tag in ('policy', 'limit'):
                policies.append(ET.tostring(el, encoding='unicode'))
    except (OSError, ET.ParseError):
        policies = []
    if not any('context="default"' in p for p in policies):
        policies.insert(0, _FALLBACK_DEFAULT_POLICY)
    return (
        '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
        ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
        '<busconfig>\n'
        f'  <listen>unix:path={socket_path}</listen>\n'
        '  <auth>EXTERNAL</auth>\n'
        + '\n'.join(policies) + '\n'
        + _POLKIT_POLICY
        + f'  <include>{policy_file}</include>\n'
        '</busconfig>\n')


class PrivateSystemBus:
    """A dbus-daemon with system bus policy, listening on <workdir>/bus."""

    def __init__(self, workdir, policy_file=POLICY_FILE):
        self.workdir = workdir
        self.socket_path = os.path.join(workdir, 'bus')
        self.config_path = os.path.join(workdir, 'bus.conf')
        with open(self.config_path, 'w') as f:
            f.write(system_bus_config(self.socket_path, policy_file))
        self.log_path = os.path.join(workdir, 'dbus-daemon.log')
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(
            [DBUS_DAEMON, f'--config-file={self.config_path}', '--nofork', '--nopidfile',
             '--print-address'],
            stdout=subprocess.PIPE, stderr=self._log, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            self.proc.wait(5)
            raise RuntimeError(f'dbus-daemon did not start: {self.log()}')
        # The socket must be usable by uid 65534 as on a real system bus.
        os.chmod(self.socket_path, 0o777)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._log.close()


class Daemon:
    """camerad from the build tree on the private bus."""

    def __init__(self, address, state_dir, log_path, extra_args=(), env=None):
        self.address = address
        self.state_dir = state_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.env = env
        self.proc = None
        wrapper = os.environ.get('CAMERAD_WRAPPER', '')
        self.wrapper = shlex.split(wrapper)
        self.valgrind = any('valgrind' in w for w in self.wrapper)
        # A sanitizer build (ASan links libasan): slower, so rates a test expects of the
        # virtual camera (e.g. 30 fps at 1080p) are not to be had on a busy machine.
        self.sanitized = _links_asan(CAMERAD_BIN)
        self.start_timeout = 120 if self.valgrind else 20
        self.stop_timeout = 120 if self.valgrind else 30

    def argv(self):
        return self.wrapper + [CAMERAD_BIN, f'--address={self.address}',
                               f'--state-dir={self.state_dir}', '--virtual-cameras=1',
                               '--no-v4l2', '--verbose'] + self.extra_args

    def start(self, bus):
        env = dict(os.environ)
        env.setdefault('ASAN_OPTIONS', 'detect_leaks=1:abort_on_error=0')
        env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.address
        if self.env:
            env.update(self.env)
        self._log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, 'a')
        log.write(f'=== {" ".join(self.argv())}\n')
        log.flush()
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                     env=env)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f'camerad exited with {self.proc.returncode} before taking the name:\n'
                    + self.log())
            try:
                if bus.name_has_owner(BUS_NAME):
                    return
            except dbus.exceptions.DBusException:
                pass
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError('camerad did not take the bus name in time:\n' + self.log())

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def log(self, since_start=False):
        try:
            with open(self.log_path, errors='replace') as f:
                if since_start:
                    f.seek(self._log_start)
                return f.read()
        except OSError:
            return ''

    def stop(self):
        """SIGTERM; returns (exit code, log of this run)."""
        if self.proc is None:
            return None, ''
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = 'timeout'
                self.proc = None
                return rc, self.log(True)
        rc = self.proc.returncode
        self.proc = None
        return rc, self.log(True)

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# Marks of a memory error or undefined behaviour in a daemon log.
_BAD_LOG = re.compile(r'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|'
                      r'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]|'
                      r'ThreadSanitizer')


def wait_until(predicate, timeout=10.0, interval=0.02, context=None):
    """Poll `predicate` (iterating the GLib main context, so signals are delivered) until
    it returns a true value; returns that value or raises AssertionError."""
    ctx = context or GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while True:
        while ctx.iteration(False):
            pass
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f'condition not met within {timeout} s')
        time.sleep(interval)


def pump(seconds=0.0):
    """Deliver pending D-Bus messages (signals) for `seconds`."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + seconds
    while True:
        while ctx.iteration(False):
            pass
        if time.monotonic() >= deadline:
            return
        time.sleep(0.01)


class SignalRecorder:
    """Records signals of one interface (optionally one object path) on a connection:
    `signals` is a list of (member, path, args)."""

    def __init__(self, bus, interface, path=None, member=None):
        self.signals = []
        self._match = bus.add_signal_receiver(
            self._on_signal, dbus_interface=interface, path=path, signal_name=member,
            bus_name=BUS_NAME, member_keyword='member', path_keyword='path')

    def _on_signal(self, *args, member=None, path=None):
        self.signals.append((str(member), str(path), args))

    def of(self, member):
        return [s for s in self.signals if s[0] == member]

    def wait_for(self, member, predicate=lambda args: True, timeout=10.0):
        """Wait for a `member` signal whose args satisfy predicate; returns its args."""
        def find():
            for m, _, args in self.signals:
                if m == member and predicate(args):
                    return args
            return None
        return wait_until(find, timeout)

    def remove(self):
        self._match.remove()


class CameradTestCase(unittest.TestCase):
    """Base class: a private system-policy bus + polkitd mock per class, a fresh daemon
    (unless start_daemon_in_setup is False) per test."""

    start_daemon_in_setup = True
    daemon_args = ()
    daemon_env = None

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix='camerad-test-')
        # uid 65534 must reach the bus socket in here, as on a real system bus.
        os.chmod(cls.workdir, 0o755)
        cls.dbus = PrivateSystemBus(cls.workdir)
        cls.address = cls.dbus.address
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = cls.address
        cls.polkit_log = open(os.path.join(cls.workdir, 'polkitd.log'), 'w')
        cls.polkit_proc, cls.polkit_obj = dbusmock.DBusTestCase.spawn_server_template(
            'polkitd', {}, stdout=cls.polkit_log, system_bus=True)
        cls.bus = dbus.bus.BusConnection(cls.address)

    @classmethod
    def tearDownClass(cls):
        cls.bus.close()
        cls.polkit_proc.terminate()
        cls.polkit_proc.wait()
        cls.polkit_log.close()
        cls.dbus.stop()
        if os.environ.get('CAMERAD_KEEP_WORKDIR'):
            print(f'workdir kept: {cls.workdir}', file=sys.stderr)
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)

    def setUp(self):
        self.polkit_allow([])
        self.state_dir = tempfile.mkdtemp(prefix='state-', dir=self.workdir)
        self.daemon = None
        if self.start_daemon_in_setup:
            self.start_daemon()

    def tearDown(self):
        if self.daemon is not None and self.daemon.proc is not None:
            self.stop_daemon()

    # polkit mock -------------------------------------------------------------------------

    def polkit_allow(self, actions):
        """Allow exactly these polkit actions (for every subject)."""
        self.polkit_obj.SetAllowed(dbus.Array(actions, signature='s'),
                                   dbus_interface=dbusmock.MOCK_IFACE)

    # daemon -------------------------------------------------------------------------------

    @staticmethod
    def require_daemon():
        if not CAMERAD_BIN or not os.access(CAMERAD_BIN, os.X_OK):
            raise unittest.SkipTest(f'camerad not built (CAMERAD_BIN={CAMERAD_BIN!r})')

    def start_daemon(self, extra_args=None, env=None):
        """Start camerad on the private bus with this test's state dir."""
        self.require_daemon()
        args = list(self.daemon_args) + list(extra_args or ())
        e = dict(self.daemon_env or {})
        e.update(env or {})
        self.daemon = Daemon(self.address, self.state_dir,
                             os.path.join(self.workdir, f'camerad-{self.id()}.log'),
                             args, e)
        self.daemon.start(self.bus)
        return self.daemon

    def stop_daemon(self):
        """SIGTERM; asserts exit 0 and no sanitizer/valgrind report. Returns the log."""
        rc, log = self.daemon.stop()
        self.assertEqual(rc, 0, f'camerad exited with {rc} after SIGTERM:\n{log[-20000:]}')
        m = _BAD_LOG.search(log)
        self.assertIsNone(m, f'camerad log shows an error ({m and m.group(0)}):\n'
                          f'{log[-20000:]}')
        self.wait_name_gone()
        return log

    def kill9(self):
        """SIGKILL the daemon (no clean-up at all); the state dir is kept."""
        self.daemon.kill9()
        self.wait_name_gone()

    def restart_daemon(self, clean=True):
        """Stop (SIGTERM + checks if `clean`, else SIGKILL) and start again on the same
        state dir."""
        extra, env = self.daemon.extra_args, self.daemon.env
        if self.daemon.running:
            if clean:
                self.stop_daemon()
            else:
                self.kill9()
        self.daemon = Daemon(self.address, self.state_dir, self.daemon.log_path, extra, env)
        self.daemon.start(self.bus)
        return self.daemon

    def wait_name_gone(self, timeout=10):
        wait_until(lambda: not self.bus.name_has_owner(BUS_NAME), timeout)

    def daemon_log(self):
        return self.daemon.log() if self.daemon else ''

    # calls --------------------------------------------------------------------------------

    def obj(self, path):
        return self.bus.get_object(BUS_NAME, path, introspect=False)

    def iface(self, path, interface):
        """A dbus.Interface; `interface` may be short ('Manager') or full."""
        if '.' not in interface:
            interface = IFACE_PREFIX + interface
        return dbus.Interface(self.obj(path), interface)

    @property
    def manager(self):
        return self.iface(ROOT_PATH, 'Manager')

    def get_property(self, path, interface, name):
        if '.' not in interface:
            interface = IFACE_PREFIX + interface
        return self.obj(path).Get(interface, name,
                                  dbus_interface='org.freedesktop.DBus.Properties')

    def get_all_properties(self, path, interface):
        if '.' not in interface:
            interface = IFACE_PREFIX + interface
        return self.obj(path).GetAll(interface,
                                     dbus_interface='org.freedesktop.DBus.Properties')

    def call_as(self, uid, path, interface, method, signature='', *args, timeout=30):
        """Call as another uid (default policy applies). Returns a CallResult."""
        if '.' not in interface:
            interface = IFACE_PREFIX + interface
        return call_as(self.address, uid, path, interface, method, signature, *args,
                       timeout=timeout)

    def signals(self, interface, path=None, member=None):
        """A SignalRecorder on the test's connection; removed at test end."""
        if '.' not in interface:
            interface = IFACE_PREFIX + interface
        rec = SignalRecorder(self.bus, interface, path, member)
        self.addCleanup(rec.remove)
        return rec

    # assertions ---------------------------------------------------------------------------

    def assertDBusError(self, name, code_prefix, func, *args, **kwargs):
        """func(*args) must fail with D-Bus error `name` (short names get the
        org.camerad.Camera1.Error. prefix) whose message starts with `code_prefix`
        (e.g. '7400102: '; None = not checked). Returns the exception."""
        if '.' not in name:
            name = ERROR_PREFIX + name
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            func(*args, **kwargs)
        e = cm.exception
        self.assertEqual(e.get_dbus_name(), name, f'message: {e.get_dbus_message()}')
        if code_prefix is not None:
            self.assertTrue((e.get_dbus_message() or '').startswith(code_prefix),
                            f'{e.get_dbus_message()!r} does not start with {code_prefix!r}')
        return e

    def assertCallError(self, result, name, code_prefix=None):
        """Like assertDBusError for a CallResult of call_as()."""
        if '.' not in name:
            name = ERROR_PREFIX + name
        self.assertFalse(result.ok, f'expected {name}, got {result!r}')
        self.assertEqual(result.error_name, name, result.error_message)
        if code_prefix is not None:
            self.assertTrue(result.error_message.startswith(code_prefix),
                            f'{result.error_message!r} does not start with {code_prefix!r}')

    def assertCallOk(self, result):
        self.assertTrue(result.ok, f'call failed: {result!r}')
        return result.value

    # capture and media helpers ------------------------------------------------------------

    def start_photo_session(self, width=320, height=240, fmt='YUYV', fps=30.0):
        """A running photo session on the first camera; returns (session, photo output)
        as dbus.Interface objects. Released at test end."""
        cameras = self.get_property(ROOT_PATH, 'Manager', 'Cameras')
        self.assertTrue(cameras, 'no camera')
        path = self.manager.CreateSession('photo')
        session = self.iface(path, 'Session')
        self.addCleanup(self._release_quietly, session)
        session.BeginConfig()
        session.AddInput(cameras[0])
        profile = dbus.Dictionary({'format': fmt, 'width': dbus.UInt32(width),
                                   'height': dbus.UInt32(height), 'fps': dbus.Double(fps)},
                                  signature='sv')
        out = session.CreateOutput('photo', profile)
        session.AddOutput(out)
        session.CommitConfig()
        session.Start()
        return session, self.iface(out, 'PhotoOutput')

    def _release_quietly(self, session):
        if self.daemon is None or not self.daemon.running:
            return
        try:
            session.Release()
        except dbus.exceptions.DBusException:
            pass

    def capture_images(self, n, deferred=True, burst=4, quality=90, width=320, height=240,
                       keep_running=False):
        """Captures n photos on a fresh session; returns their ids (oldest first). The
        session is stopped afterwards unless keep_running (then it is returned too)."""
        session, photo = self.start_photo_session(width, height)
        # Let the frame ring fill so that a burst has all of its frames.
        time.sleep(0.1 + burst / 30.0)
        ids = []
        for _ in range(n):
            ids.append(str(photo.Capture(dbus.Dictionary(
                {'deferred': dbus.Boolean(deferred), 'burst': dbus.UInt32(burst),
                 'quality': dbus.UInt32(quality)}, signature='sv'))))
        if keep_running:
            return ids, session
        session.Release()
        return ids


def main():
    """Run the tests of the calling module (unittest.main with verbose output)."""
    unittest.main(verbosity=2)
