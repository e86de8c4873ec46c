# SPDX-License-Identifier: MIT
"""The harness itself: the private bus enforces the system bus policy with our
dbus/org.camerad.Camera1.conf, the polkit mock answers, calls as uid 65534 work, and the
daemon takes its name and exits cleanly."""

import os
import subprocess

import dbus

import camerad_test
from camerad_test import BUS_NAME, NOBODY, ROOT_PATH


class BusPolicyTest(camerad_test.CameradTestCase):
    start_daemon_in_setup = False

    def test_bus_is_up(self):
        self.assertTrue(self.address.startswith('unix:path='))
        self.assertIn('org.freedesktop.DBus', self.bus.list_names())

    def test_polkit_mock_answers(self):
        subject = ('unix-process', {'pid': dbus.UInt32(os.getpid(), variant_level=1),
                                    'start-time': dbus.UInt64(0, variant_level=1)})
        authority = dbus.Interface(
            self.bus.get_object('org.freedesktop.PolicyKit1',
                                '/org/freedesktop/PolicyKit1/Authority'),
            'org.freedesktop.PolicyKit1.Authority')

        def check(action):
            return bool(authority.CheckAuthorization(subject, action, {}, 0, '')[0])

        self.assertFalse(check('org.camerad.Camera1.manage'))
        self.polkit_allow(['org.camerad.Camera1.manage'])
        self.assertTrue(check('org.camerad.Camera1.manage'))
        self.assertFalse(check('org.camerad.Camera1.use-camera'))
        self.polkit_allow([])
        self.assertFalse(check('org.camerad.Camera1.manage'))

    def test_nobody_cannot_own_our_name(self):
        code = ('import dbus, sys\n'
                f'b = dbus.bus.BusConnection({self.address!r})\n'
                'try:\n'
                f'    b.request_name({BUS_NAME!r})\n'
                'except dbus.exceptions.DBusException as e:\n'
                '    print(e.get_dbus_name()); sys.exit(0)\n'
                'print("owned")\n')
        r = camerad_test.run_as(NOBODY, [camerad_test.PYTHON, '-c', code],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), 'org.freedesktop.DBus.Error.AccessDenied')

    def test_root_may_own_our_name(self):
        conn = dbus.bus.BusConnection(self.address)
        try:
            self.assertEqual(conn.request_name(BUS_NAME),
                             dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER)
        finally:
            conn.close()

    def test_nobody_cannot_own_other_names(self):
        code = ('import dbus, sys\n'
                f'b = dbus.bus.BusConnection({self.address!r})\n'
                'try:\n'
                '    b.request_name("org.example.Other")\n'
                'except dbus.exceptions.DBusException as e:\n'
                '    print(e.get_dbus_name()); sys.exit(0)\n'
                'print("owned")\n')
        r = camerad_test.run_as(NOBODY, [camerad_test.PYTHON, '-c', code],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), 'org.freedesktop.DBus.Error.AccessDenied')

    def test_policy_lets_anyone_call_our_interfaces_only(self):
        # A stand-in owner of our name (root may own it) answering any call: the bus
        # policy alone decides what reaches it.
        code = '''
import dbus, dbus.service, dbus.mainloop.glib, sys
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
class Obj(dbus.service.Object):
    @dbus.service.method('org.camerad.Camera1.Manager', out_signature='s')
    def Ping(self):
        return 'pong'
    @dbus.service.method('org.example.NotOurs', out_signature='s')
    def Ping2(self):
        return 'pong'
name = dbus.service.BusName('org.camerad.Camera1', bus)
Obj(bus, '/org/camerad/Camera1')
print('ready', flush=True)
GLib.MainLoop().run()
'''
        p = subprocess.Popen([camerad_test.PYTHON, '-c', code, self.address],
                             stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), 'ready')
            ok = self.call_as(NOBODY, ROOT_PATH, 'Manager', 'Ping')
            self.assertEqual(self.assertCallOk(ok), ['pong'])
            peer = self.call_as(NOBODY, ROOT_PATH, 'org.freedesktop.DBus.Peer', 'Ping')
            self.assertCallOk(peer)
            intro = self.call_as(NOBODY, ROOT_PATH, 'org.freedesktop.DBus.Introspectable',
                                 'Introspect')
            self.assertIn('org.camerad.Camera1.Manager', self.assertCallOk(intro)[0])
            denied = self.call_as(NOBODY, ROOT_PATH, 'org.example.NotOurs', 'Ping2')
            self.assertCallError(denied, 'org.freedesktop.DBus.Error.AccessDenied')
        finally:
            p.terminate()
            p.wait()
            p.stdout.close()


class DaemonTest(camerad_test.CameradTestCase):

    def test_daemon_takes_name_and_exits_cleanly(self):
        self.assertTrue(self.bus.name_has_owner(BUS_NAME))
        self.assertTrue(self.daemon.running)
        introspection = self.obj(ROOT_PATH).Introspect(
            dbus_interface='org.freedesktop.DBus.Introspectable')
        self.assertIn('org.camerad.Camera1.Manager', introspection)
        self.stop_daemon()
        self.assertFalse(self.bus.name_has_owner(BUS_NAME))

    def test_nobody_reaches_the_daemon(self):
        r = self.call_as(NOBODY, ROOT_PATH, 'org.freedesktop.DBus.Properties', 'Get', 'ss',
                         'org.camerad.Camera1.Manager', 'Version')
        self.assertIsInstance(self.assertCallOk(r)[0], str)

    def test_daemon_as_other_user_cannot_take_the_name(self):
        # The policy lets only root and "camerad" own the name: run as nobody, camerad
        # must give up with a one-line reason and a non-zero status.
        self.stop_daemon()
        state = os.path.join(self.workdir, f'nobody-state-{os.getpid()}')
        os.makedirs(state, exist_ok=True)
        os.chown(state, NOBODY, NOBODY)
        r = camerad_test.run_as(
            NOBODY, [camerad_test.CAMERAD_BIN, f'--address={self.address}',
                     f'--state-dir={state}', '--virtual-cameras=1', '--no-v4l2'],
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('org.camerad.Camera1', r.stderr)
        self.assertFalse(self.bus.name_has_owner(BUS_NAME))

    def test_kill9_and_restart_keep_state_dir(self):
        marker = os.path.join(self.state_dir, 'harness-marker')
        with open(marker, 'w') as f:
            f.write('x')
        self.kill9()
        self.assertFalse(self.bus.name_has_owner(BUS_NAME))
        self.restart_daemon()
        self.assertTrue(self.bus.name_has_owner(BUS_NAME))
        self.assertTrue(os.path.exists(marker))


if __name__ == '__main__':
    camerad_test.main()
