# SPDX-License-Identifier: MIT
"""The Manager and Camera objects, the ObjectManager, CreateSession's rules (polkit, the
8-session limit, owner tracking), and the daemon's command line: exit codes, idle exit,
unusable bus / state directory / configuration."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import dbus

import camerad_test
from camerad_test import ACCESS_DENIED, BUS_NAME, CAMERAD_BIN, NOBODY, PYTHON, ROOT_PATH

CAMERA = dbus.ObjectPath(ROOT_PATH + '/camera/0')
USE_CAMERA = 'org.camerad.Camera1.use-camera'


class ManagerTest(camerad_test.CameradTestCase):
    def test_version_and_cameras(self):
        version = str(self.get_property(ROOT_PATH, 'Manager', 'Version'))
        self.assertRegex(version, r'^\d+\.\d+\.\d+')
        cameras = [str(c) for c in self.get_property(ROOT_PATH, 'Manager', 'Cameras')]
        self.assertEqual(cameras, [CAMERA])

    def test_camera_properties(self):
        p = self.get_all_properties(CAMERA, 'Camera')
        self.assertEqual(str(p['Id']), 'virtual:0')
        self.assertEqual(str(p['Driver']), 'virtual')
        self.assertEqual(str(p['DevicePath']), '')
        self.assertTrue(str(p['Name']))
        self.assertTrue(p['Connected'])
        self.assertFalse(p['InUse'])
        formats = {(str(f[0]), int(f[1]), int(f[2])): float(f[3]) for f in p['Formats']}
        for fourcc in ('YUYV', 'NV12'):
            for size in ((320, 240), (640, 480), (1280, 720), (1920, 1080)):
                self.assertEqual(formats.get((fourcc,) + size), 30.0, (fourcc, size))

    def test_object_manager(self):
        om = self.iface(ROOT_PATH, 'org.freedesktop.DBus.ObjectManager')
        rec = self.signals('org.freedesktop.DBus.ObjectManager')
        objects = om.GetManagedObjects()
        self.assertIn(CAMERA, objects)
        self.assertIn('org.camerad.Camera1.Camera', objects[CAMERA])
        path = self.manager.CreateSession('video')
        args = rec.wait_for('InterfacesAdded', lambda a: str(a[0]) == path)
        self.assertEqual(str(args[1]['org.camerad.Camera1.Session']['State']), 'idle')
        self.assertEqual(str(args[1]['org.camerad.Camera1.Session']['Mode']), 'video')
        self.assertIn(path, om.GetManagedObjects())
        s = self.iface(path, 'Session')
        out = s.CreateOutput('preview', dbus.Dictionary({}, signature='sv'))
        args = rec.wait_for('InterfacesAdded', lambda a: str(a[0]) == out)
        self.assertIn('org.camerad.Camera1.Output', args[1])
        self.assertIn('org.camerad.Camera1.PreviewOutput', args[1])
        s.Release()
        rec.wait_for('InterfacesRemoved', lambda a: str(a[0]) == out)
        rec.wait_for('InterfacesRemoved', lambda a: str(a[0]) == path)
        self.assertNotIn(path, om.GetManagedObjects())

    def test_session_paths_are_not_reused(self):
        a = self.manager.CreateSession('photo')
        self.iface(a, 'Session').Release()
        b = self.manager.CreateSession('photo')
        self.assertNotEqual(a, b)

    def test_bad_modes(self):
        for mode in ('', 'Photo', 'audio', 'photo ', 'm' * 100000):
            e = self.assertDBusError('InvalidArgument', '7400101: ', self.manager.CreateSession, mode)
            self.assertIn('mode', e.get_dbus_message())
            self.assertLess(len(e.get_dbus_message()), 1024)
        e = self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', None,
                                 self.manager.CreateSession, dbus.UInt32(1), signature='u')

    def test_eight_sessions_per_client(self):
        paths = [self.manager.CreateSession('photo') for _ in range(8)]
        self.assertEqual(len(set(paths)), 8)
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', self.manager.CreateSession, 'photo')
        self.assertIn('8', e.get_dbus_message())
        # Another client is counted on its own.
        other = dbus.bus.BusConnection(self.address)
        self.addCleanup(other.close)
        om = dbus.Interface(other.get_object(BUS_NAME, ROOT_PATH, introspect=False),
                            'org.camerad.Camera1.Manager')
        om.CreateSession('video')
        self.iface(paths[0], 'Session').Release()
        self.manager.CreateSession('photo')
        for p in paths[1:]:
            self.iface(p, 'Session').Release()

    def test_pipelined_create_sessions_keep_the_limit(self):
        """CreateSession is answered after asynchronous polkit and bus checks; ten calls
        sent at once still make exactly eight sessions."""
        other = dbus.bus.BusConnection(self.address)
        self.addCleanup(other.close)
        om = dbus.Interface(other.get_object(BUS_NAME, ROOT_PATH, introspect=False),
                            'org.camerad.Camera1.Manager')
        paths, errors = [], []
        for _ in range(10):
            om.CreateSession('photo', reply_handler=lambda p: paths.append(str(p)),
                             error_handler=errors.append)
        camerad_test.wait_until(lambda: len(paths) + len(errors) == 10)
        self.assertEqual(len(set(paths)), 8)
        self.assertEqual([e.get_dbus_name() for e in errors],
                         ['org.camerad.Camera1.Error.OperationNotAllowed'] * 2)

    def test_caller_gone_before_the_answer(self):
        """A caller that leaves while its CreateSession waits for polkit gets no session:
        none is left behind, and the daemon says why it made none."""
        self.polkit_allow([USE_CAMERA])
        code = f'''
import dbus, dbus.lowlevel
b = dbus.bus.BusConnection({self.address!r})
# The daemon learns our uid now (one call answered), so that the calls below go straight
# to polkit and we are gone before it answers.
dbus.Interface(b.get_object({BUS_NAME!r}, {ROOT_PATH!r}, introspect=False),
               'org.camerad.Camera1.Manager').GetImageProcessSession()
for _ in range(20):
    m = dbus.lowlevel.MethodCallMessage({BUS_NAME!r}, {ROOT_PATH!r},
                                        'org.camerad.Camera1.Manager', 'CreateSession')
    m.append('photo', signature='s')
    b.send_message(m)
b.flush()
b.close()
'''
        camerad_test.run_as(NOBODY, [PYTHON, '-c', code], check=True, timeout=60)
        om = self.iface(ROOT_PATH, 'org.freedesktop.DBus.ObjectManager')
        camerad_test.wait_until(lambda: 'left the bus before its CreateSession was answered'
                                in self.daemon_log(), 30)
        camerad_test.wait_until(lambda: not [p for p in om.GetManagedObjects()
                                             if '/session/' in str(p)], 30)

    def test_polkit_for_other_users(self):
        r = self.call_as(NOBODY, ROOT_PATH, 'Manager', 'CreateSession', 's', 'photo')
        self.assertCallError(r, ACCESS_DENIED)
        self.assertIn(USE_CAMERA, r.error_message)
        self.polkit_allow([USE_CAMERA])
        r = self.call_as(NOBODY, ROOT_PATH, 'Manager', 'CreateSession', 's', 'photo')
        path = self.assertCallOk(r)[0]
        self.assertTrue(path.startswith(ROOT_PATH + '/session/'))
        # Its owner exited with the call: the session is gone already.
        camerad_test.wait_until(lambda: path not in self.iface(
            ROOT_PATH, 'org.freedesktop.DBus.ObjectManager').GetManagedObjects())
        self.polkit_allow(['org.camerad.Camera1.manage'])
        r = self.call_as(NOBODY, ROOT_PATH, 'Manager', 'CreateSession', 's', 'photo')
        self.assertCallError(r, ACCESS_DENIED)
        # Root never needs polkit.
        self.polkit_allow([])
        self.manager.CreateSession('photo')

    def test_owner_leaving_releases_session(self):
        # A client that takes the camera and exits without releasing anything.
        code = f'''
import dbus, sys
b = dbus.bus.BusConnection({self.address!r})
m = dbus.Interface(b.get_object({BUS_NAME!r}, {ROOT_PATH!r}), 'org.camerad.Camera1.Manager')
p = m.CreateSession('photo')
s = dbus.Interface(b.get_object({BUS_NAME!r}, p), 'org.camerad.Camera1.Session')
s.BeginConfig()
s.AddInput(dbus.ObjectPath({str(CAMERA)!r}))
o = s.CreateOutput('preview', dbus.Dictionary({{}}, signature='sv'))
s.AddOutput(o)
s.CommitConfig()
s.Start()
print(p, flush=True)
sys.stdin.readline()
'''
        rec = self.signals('org.freedesktop.DBus.ObjectManager', member='InterfacesRemoved')
        child = subprocess.Popen([PYTHON, '-c', code], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        path = child.stdout.readline().strip()
        self.assertTrue(path.startswith(ROOT_PATH + '/session/'), path)
        self.assertTrue(self.get_property(CAMERA, 'Camera', 'InUse'))
        self.assertEqual(str(self.get_property(path, 'Session', 'State')), 'running')
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()
        rec.wait_for('InterfacesRemoved', lambda a: str(a[0]) == path, timeout=5)
        self.assertFalse(self.get_property(CAMERA, 'Camera', 'InUse'))
        # The camera is free for the next client.
        s = self.iface(self.manager.CreateSession('photo'), 'Session')
        s.BeginConfig()
        s.AddInput(CAMERA)
        s.AddOutput(s.CreateOutput('photo', dbus.Dictionary({}, signature='sv')))
        s.CommitConfig()

    def test_sigterm_while_running(self):
        s = self.iface(self.manager.CreateSession('video'), 'Session')
        s.BeginConfig()
        s.AddInput(CAMERA)
        s.AddOutput(s.CreateOutput('preview', dbus.Dictionary({}, signature='sv')))
        s.CommitConfig()
        s.Start()
        time.sleep(0.3)
        self.stop_daemon()  # asserts exit 0 and a clean log


class NoPolkitTest(camerad_test.CameradTestCase):
    def test_no_polkit_means_denied(self):
        self.polkit_proc.terminate()
        self.polkit_proc.wait()
        camerad_test.wait_until(lambda: not self.bus.name_has_owner('org.freedesktop.PolicyKit1'))
        r = self.call_as(NOBODY, ROOT_PATH, 'Manager', 'CreateSession', 's', 'photo')
        self.assertCallError(r, ACCESS_DENIED)
        self.assertIn('polkit', r.error_message)
        self.manager.CreateSession('photo')  # root still may


class IdleExitTest(camerad_test.CameradTestCase):
    start_daemon_in_setup = False

    def test_exits_when_idle(self):
        d = self.start_daemon(['--idle-exit=1'])
        t0 = time.monotonic()
        d.proc.wait(15)
        self.assertEqual(d.proc.returncode, 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertIsNone(camerad_test._BAD_LOG.search(d.log()), d.log())

    def test_stays_while_a_session_exists(self):
        d = self.start_daemon(['--idle-exit=1'])
        path = self.manager.CreateSession('photo')
        time.sleep(2.5)
        self.assertTrue(d.running)
        self.iface(path, 'Session').Release()
        d.proc.wait(15)
        self.assertEqual(d.proc.returncode, 0)


class CommandLineTest(camerad_test.CameradTestCase):
    start_daemon_in_setup = False

    def run_camerad(self, *args, timeout=20):
        self.require_daemon()
        return subprocess.run([CAMERAD_BIN] + list(args), capture_output=True, text=True,
                              timeout=timeout)

    def test_help_and_version(self):
        r = self.run_camerad('--help')
        self.assertEqual(r.returncode, 0)
        for flag in ('--system', '--session', '--address=', '--state-dir=', '--virtual-cameras=',
                     '--no-v4l2', '--idle-exit=', '--verbose', '--config='):
            self.assertIn(flag, r.stdout)
        r = self.run_camerad('--version')
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r'^camerad \d+\.\d+')

    def test_bad_flags(self):
        for args in (['--virtual-cameras=x'], ['--virtual-cameras=-1'], ['--idle-exit=0'],
                     ['--bogus'], ['extra']):
            r = self.run_camerad(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue(r.stderr.strip(), args)

    def one_line_failure(self, r):
        self.assertNotEqual(r.returncode, 0)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertTrue(lines, 'no reason given')
        self.assertTrue(lines[-1].startswith('camerad: '), r.stderr)
        return lines[-1]

    def test_bus_cannot_be_used(self):
        r = self.run_camerad('--address=unix:path=/nonexistent/bus', f'--state-dir={self.state_dir}',
                             '--no-v4l2')
        line = self.one_line_failure(r)
        self.assertIn('bus', line)

    def test_state_dir_cannot_be_used(self):
        with tempfile.NamedTemporaryFile(dir=self.workdir) as f:
            r = self.run_camerad(f'--address={self.address}', f'--state-dir={f.name}/sub',
                                 '--no-v4l2')
            line = self.one_line_failure(r)
            self.assertIn('state directory', line)

    def test_state_dir_created_0700(self):
        target = os.path.join(self.state_dir, 'a', 'b')
        self.start_daemon([f'--state-dir={target}'])
        self.assertEqual(os.stat(target).st_mode & 0o777, 0o700)

    def test_state_dir_from_environment(self):
        target = os.path.join(self.state_dir, 'from-env')
        argv = [CAMERAD_BIN, f'--address={self.address}', '--no-v4l2', '--virtual-cameras=1']
        env = dict(os.environ, STATE_DIRECTORY=target + ':/ignored')
        p = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        try:
            camerad_test.wait_until(lambda: self.bus.name_has_owner(BUS_NAME), 20)
            self.assertTrue(os.path.isdir(target))
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(30), 0)
            p.stderr.close()
        self.wait_name_gone()

    def test_malformed_config(self):
        cfg = os.path.join(self.state_dir, 'bad.conf')
        with open(cfg, 'w') as f:
            f.write('{"concurrency": {"balanced": -2}}')
        r = self.run_camerad(f'--address={self.address}', f'--state-dir={self.state_dir}',
                             f'--config={cfg}', '--no-v4l2')
        line = self.one_line_failure(r)
        self.assertIn('balanced', line)
        with open(cfg, 'w') as f:
            f.write('not json')
        self.one_line_failure(self.run_camerad(f'--address={self.address}',
                                               f'--state-dir={self.state_dir}', f'--config={cfg}'))

    @contextlib.contextmanager
    def own_daemon(self, address, state_dir, env=None):
        """camerad started by the test itself (not the harness's), killed if still running."""
        daemon = subprocess.Popen([CAMERAD_BIN, f'--address={address}', f'--state-dir={state_dir}',
                                   '--no-v4l2', '--virtual-cameras=1'],
                                  env=env, stderr=subprocess.PIPE, text=True)
        try:
            yield daemon
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            daemon.stderr.close()

    @staticmethod
    def read_until_ready(daemon):
        """The daemon's log lines up to "ready on …" (asserted by the caller)."""
        lines = []
        line = daemon.stderr.readline()
        while line:
            lines.append(line)
            if 'ready on' in line:
                break
            line = daemon.stderr.readline()
        return ''.join(lines)

    def test_sd_notify_ready_watchdog_stopping(self):
        # What systemd would see: NOTIFY_SOCKET and WATCHDOG_USEC as a Type=dbus unit with
        # WatchdogSec= gets them.
        self.require_daemon()
        with tempfile.TemporaryDirectory() as tmp, \
                socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(f'{tmp}/notify')
            sock.settimeout(20)
            env = {**os.environ, 'NOTIFY_SOCKET': f'{tmp}/notify', 'WATCHDOG_USEC': '400000'}
            with self.own_daemon(self.address, f'{tmp}/state', env) as daemon:
                seen = []

                def receive_until(word, count=1):
                    while sum(word in m for m in seen) < count:
                        seen.append(sock.recv(4096).decode())
                receive_until('READY=1')
                start = time.monotonic()
                receive_until('WATCHDOG=1', 3)
                # Three pings within well under three whole periods: the loop keeps it fed.
                self.assertLess(time.monotonic() - start, 3.0)
                daemon.send_signal(signal.SIGTERM)
                receive_until('STOPPING=1')
                self.assertEqual(daemon.wait(timeout=20), 0)

    def test_exits_when_the_bus_goes_away(self):
        # A bus of its own, so the class's bus stays up for the other tests.
        self.require_daemon()
        with tempfile.TemporaryDirectory() as tmp:
            bus = subprocess.Popen(['dbus-daemon', '--session', '--nofork',
                                    f'--address=unix:path={tmp}/bus', '--print-address'],
                                   stdout=subprocess.PIPE, text=True)
            try:
                address = bus.stdout.readline().strip()
                with self.own_daemon(address, f'{tmp}/state') as daemon:
                    self.assertIn('ready on', self.read_until_ready(daemon))
                    bus.kill()
                    bus.wait()
                    self.assertEqual(daemon.wait(timeout=20), 1)
                    self.assertIn('lost the connection to the bus', daemon.stderr.read())
            finally:
                if bus.poll() is None:
                    bus.kill()
                    bus.wait()
                bus.stdout.close()

    def test_one_broken_user_folder_does_not_stop_the_service(self):
        self.require_daemon()
        with tempfile.TemporaryDirectory() as tmp:
            for sub in ('images', 'videos'):
                os.makedirs(f'{tmp}/state/{sub}')
            with open(f'{tmp}/state/images/1000', 'w') as f:
                f.write('not a folder')
            os.symlink('/etc', f'{tmp}/state/images/3000')
            with open(f'{tmp}/state/videos/1001', 'w') as f:
                f.write('not a folder')
            with self.own_daemon(self.address, f'{tmp}/state') as daemon:
                log = self.read_until_ready(daemon)
                self.assertIn('ready on', log)
                for uid in (1000, 3000, 1001):
                    self.assertIn(f'Skipping uid {uid}', log)
                # Root's own processing session still works.
                ips = self.bus.get_object(BUS_NAME, ROOT_PATH).GetImageProcessSession(
                    dbus_interface='org.camerad.Camera1.Manager')
                self.assertEqual(str(ips), ROOT_PATH + '/image_process/0')
                daemon.send_signal(signal.SIGTERM)
                self.assertEqual(daemon.wait(timeout=20), 0)
            self.assertTrue(os.path.islink(f'{tmp}/state/images/3000'))

    def test_missing_config_named_on_command_line(self):
        # The default file may be absent (defaults apply); a file the admin named must exist.
        cfg = os.path.join(self.state_dir, 'nope.conf')
        r = self.run_camerad(f'--address={self.address}', f'--state-dir={self.state_dir}',
                             f'--config={cfg}', '--no-v4l2')
        line = self.one_line_failure(r)
        self.assertIn('nope.conf', line)
        self.assertIn('No such file', line)

    def test_second_instance_refused(self):
        self.start_daemon()
        r = self.run_camerad(f'--address={self.address}', f'--state-dir={self.state_dir}',
                             '--no-v4l2')
        line = self.one_line_failure(r)
        self.assertIn(BUS_NAME, r.stderr)


if __name__ == '__main__':
    camerad_test.main()
