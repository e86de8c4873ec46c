# SPDX-License-Identifier: MIT
"""Every row of the Session table (README, dbus/org.camerad.Camera1.Session.xml), with the named errors and codes; camera
exclusivity (Conflict); profile validation of CreateOutput; the Error signal when the
camera fails while running."""

import subprocess

import dbus

import camerad_test
from camerad_test import ACCESS_DENIED, IFACE_PREFIX, NOBODY, ROOT_PATH

CAMERA = dbus.ObjectPath(ROOT_PATH + '/camera/0')
P = dbus.ObjectPath
SESSION_IFACE = IFACE_PREFIX + 'Session'


def profile(fmt='YUYV', width=640, height=480, fps=30.0):
    return dbus.Dictionary({'format': fmt, 'width': dbus.UInt32(width),
                            'height': dbus.UInt32(height), 'fps': dbus.Double(fps)},
                           signature='sv')


class SessionCase(camerad_test.CameradTestCase):
    def new_session(self, mode='photo'):
        path = self.manager.CreateSession(mode)
        return path, self.iface(path, 'Session')

    def state(self, path):
        return str(self.get_property(path, 'Session', 'State'))

    def committed_session(self, fmt='YUYV', width=640, height=480):
        path, s = self.new_session()
        s.BeginConfig()
        s.AddInput(CAMERA)
        out = s.CreateOutput('preview', profile(fmt, width, height))
        s.AddOutput(out)
        s.CommitConfig()
        return path, s, out


class IdleStateTest(SessionCase):
    """Row by row in state 'idle'."""

    def test_idle_rows(self):
        path, s = self.new_session()
        self.assertEqual(self.state(path), 'idle')
        self.assertEqual(str(self.get_property(path, 'Session', 'Mode')), 'photo')
        self.assertFalse(s.CanAddInput(CAMERA))
        for method, args in (('AddInput', (CAMERA,)), ('RemoveInput', (CAMERA,)),
                             ('CommitConfig', ())):
            e = self.assertDBusError('OperationNotAllowed', '7400102: ', getattr(s, method), *args)
            self.assertIn("'idle'", e.get_dbus_message())
            self.assertIn(method, e.get_dbus_message())
        out = s.CreateOutput('preview', profile())  # any state but released
        self.assertFalse(s.CanAddOutput(out))
        self.assertDBusError('OperationNotAllowed', '7400102: ', s.AddOutput, out)
        self.assertDBusError('OperationNotAllowed', '7400102: ', s.RemoveOutput, out)
        e = self.assertDBusError('SessionNotConfig', '7400103: ', s.Start)
        self.assertIn("'idle'", e.get_dbus_message())
        self.assertDBusError('SessionNotRunning', '7400104: ', s.Stop)
        self.assertEqual(self.state(path), 'idle')
        s.BeginConfig()
        self.assertEqual(self.state(path), 'configuring')

    def test_release_from_idle_removes_object(self):
        path, s = self.new_session()
        rec = self.signals('org.freedesktop.DBus.ObjectManager', member='InterfacesRemoved')
        s.Release()
        rec.wait_for('InterfacesRemoved', lambda a: str(a[0]) == path)
        self.assertDBusError('org.freedesktop.DBus.Error.UnknownObject', None,
                             self.get_property, path, 'Session', 'State')


class ConfiguringStateTest(SessionCase):
    def test_begin_config_again_is_locked(self):
        path, s = self.new_session()
        s.BeginConfig()
        e = self.assertDBusError('SessionConfigLocked', '7400105: ', s.BeginConfig)
        self.assertIn("'configuring'", e.get_dbus_message())

    def test_inputs(self):
        path, s = self.new_session()
        other_path, other = self.new_session()
        s.BeginConfig()
        # Paths of the wrong kind: a session, an output, nothing at all.
        other_out = other.CreateOutput('preview', profile())
        for bad in (other_path, other_out, P(ROOT_PATH), P(ROOT_PATH + '/camera/99'), P('/x')):
            self.assertFalse(s.CanAddInput(bad))
            e = self.assertDBusError('InvalidArgument', '7400101: ', s.AddInput, bad)
            self.assertIn(bad, e.get_dbus_message())
        self.assertTrue(s.CanAddInput(CAMERA))
        s.AddInput(CAMERA)
        self.assertEqual([str(p) for p in self.get_property(path, 'Session', 'Inputs')], [CAMERA])
        self.assertFalse(s.CanAddInput(CAMERA))
        self.assertDBusError('OperationNotAllowed', '7400102: ', s.AddInput, CAMERA)
        self.assertDBusError('InvalidArgument', '7400101: ', s.RemoveInput, P(ROOT_PATH + '/camera/7'))
        s.RemoveInput(CAMERA)
        self.assertEqual(list(self.get_property(path, 'Session', 'Inputs')), [])
        self.assertDBusError('InvalidArgument', '7400101: ', s.RemoveInput, CAMERA)

    def test_outputs(self):
        path, s = self.new_session()
        other_path, other = self.new_session()
        s.BeginConfig()
        prev = s.CreateOutput('preview', profile('YUYV', 640, 480, 15.0))
        photo = s.CreateOutput('photo', profile('YUYV', 640, 480, 30.0))
        video_nv12 = s.CreateOutput('video', profile('NV12', 640, 480))
        video_big = s.CreateOutput('video', profile('YUYV', 1280, 720))
        cannot = s.CreateOutput('preview', profile('YUYV', 800, 600))
        prev2 = s.CreateOutput('preview', profile())
        other_out = other.CreateOutput('preview', profile())
        self.assertEqual(len(self.get_property(path, 'Session', 'Outputs')), 6)

        # Before an input: not possible yet.
        self.assertFalse(s.CanAddOutput(prev))
        self.assertDBusError('OperationNotAllowed', '7400102: ', s.AddOutput, prev)
        s.AddInput(CAMERA)

        for bad in (other_out, CAMERA, other_path, P(path + '/output/99')):
            self.assertFalse(s.CanAddOutput(bad))
            e = self.assertDBusError('InvalidArgument', '7400101: ', s.AddOutput, bad)
            self.assertIn(bad, e.get_dbus_message())
        self.assertFalse(s.CanAddOutput(cannot))
        e = self.assertDBusError('InvalidArgument', '7400101: ', s.AddOutput, cannot)
        self.assertIn('800x600', e.get_dbus_message())

        self.assertTrue(s.CanAddOutput(prev))
        s.AddOutput(prev)
        self.assertFalse(s.CanAddOutput(prev2))
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', s.AddOutput, prev2)
        self.assertIn('preview', e.get_dbus_message())
        self.assertDBusError('OperationNotAllowed', '7400102: ', s.AddOutput, prev)

        # Outputs that cannot run together: another format, another size.
        self.assertFalse(s.CanAddOutput(video_nv12))
        e = self.assertDBusError('ConfigConflict', '7400110: ', s.AddOutput, video_nv12)
        self.assertIn('NV12', e.get_dbus_message())
        self.assertDBusError('ConfigConflict', '7400110: ', s.AddOutput, video_big)
        # Same shape, another rate: fine.
        self.assertTrue(s.CanAddOutput(photo))
        s.AddOutput(photo)

        self.assertDBusError('InvalidArgument', '7400101: ', s.RemoveOutput, prev2)  # not added
        self.assertDBusError('InvalidArgument', '7400101: ', s.RemoveOutput, other_out)
        self.assertDBusError('InvalidArgument', '7400101: ', s.RemoveOutput, CAMERA)
        s.RemoveOutput(prev)
        s.AddOutput(prev2)

        # The outputs stay added without an input; the camera can come back.
        s.RemoveInput(CAMERA)
        self.assertTrue(s.CanAddInput(CAMERA))

    def test_commit_needs_input_and_output(self):
        path, s = self.new_session()
        s.BeginConfig()
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', s.CommitConfig)
        self.assertIn('input', e.get_dbus_message())
        s.AddInput(CAMERA)
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', s.CommitConfig)
        self.assertIn('output', e.get_dbus_message())
        out = s.CreateOutput('photo', profile())
        s.AddOutput(out)
        self.assertDBusError('SessionNotConfig', '7400103: ', s.Start)
        self.assertDBusError('SessionNotRunning', '7400104: ', s.Stop)
        self.assertFalse(self.get_property(CAMERA, 'Camera', 'InUse'))
        s.CommitConfig()
        self.assertEqual(self.state(path), 'committed')
        self.assertTrue(self.get_property(CAMERA, 'Camera', 'InUse'))


class CommittedAndRunningTest(SessionCase):
    def test_committed_rows(self):
        path, s, out = self.committed_session()
        self.assertFalse(s.CanAddInput(CAMERA))
        self.assertFalse(s.CanAddOutput(out))
        for method, args in (('AddInput', (CAMERA,)), ('RemoveInput', (CAMERA,)),
                             ('AddOutput', (out,)), ('RemoveOutput', (out,)), ('CommitConfig', ())):
            e = self.assertDBusError('OperationNotAllowed', '7400102: ', getattr(s, method), *args)
            self.assertIn("'committed'", e.get_dbus_message())
        e = self.assertDBusError('SessionNotRunning', '7400104: ', s.Stop)
        self.assertIn("'committed'", e.get_dbus_message())
        s.CreateOutput('video', profile())
        s.BeginConfig()
        self.assertEqual(self.state(path), 'configuring')
        # The camera stays with this session while it keeps the input.
        self.assertTrue(self.get_property(CAMERA, 'Camera', 'InUse'))
        s.CommitConfig()
        self.assertEqual(self.state(path), 'committed')

    def test_running_rows(self):
        path, s, out = self.committed_session()
        rec = self.signals('org.freedesktop.DBus.Properties', path=path, member='PropertiesChanged')
        s.Start()
        self.assertEqual(self.state(path), 'running')
        rec.wait_for('PropertiesChanged', lambda a: a[1].get('State') == 'running')
        s.Start()  # already running: nothing happens
        self.assertEqual(self.state(path), 'running')
        for method, args in (('AddInput', (CAMERA,)), ('RemoveInput', (CAMERA,)),
                             ('AddOutput', (out,)), ('RemoveOutput', (out,)), ('CommitConfig', ())):
            e = self.assertDBusError('OperationNotAllowed', '7400102: ', getattr(s, method), *args)
            self.assertIn("'running'", e.get_dbus_message())
        s.CreateOutput('photo', profile())
        s.Stop()
        self.assertEqual(self.state(path), 'committed')
        rec.wait_for('PropertiesChanged', lambda a: a[1].get('State') == 'committed')
        s.Start()
        s.BeginConfig()  # running: stops first
        self.assertEqual(self.state(path), 'configuring')
        s.CommitConfig()
        s.Start()
        self.assertEqual(self.state(path), 'running')

    def test_release_from_every_state(self):
        for target in ('idle', 'configuring', 'committed', 'running'):
            path, s = self.new_session()
            out = None
            if target != 'idle':
                s.BeginConfig()
                s.AddInput(CAMERA)
                out = s.CreateOutput('preview', profile())
                s.AddOutput(out)
            if target in ('committed', 'running'):
                s.CommitConfig()
            if target == 'running':
                s.Start()
            self.assertEqual(self.state(path), target)
            rec = self.signals('org.freedesktop.DBus.ObjectManager', member='InterfacesRemoved')
            s.Release()
            rec.wait_for('InterfacesRemoved', lambda a: str(a[0]) == path)
            if out is not None:
                rec.wait_for('InterfacesRemoved', lambda a: str(a[0]) == out)
            self.assertFalse(self.get_property(CAMERA, 'Camera', 'InUse'), target)
            self.assertDBusError('org.freedesktop.DBus.Error.UnknownObject', None,
                                 self.get_property, path, 'Session', 'State')


class ConflictTest(SessionCase):
    def test_camera_held_by_another_session(self):
        path_a, a, _ = self.committed_session()
        path_b, b = self.new_session('video')
        b.BeginConfig()
        b.AddInput(CAMERA)  # adding is fine; acquiring is what conflicts
        out = b.CreateOutput('video', profile())
        b.AddOutput(out)
        e = self.assertDBusError('Conflict', '7400107: ', b.CommitConfig)
        self.assertIn(path_a, e.get_dbus_message())
        self.assertIn(CAMERA, e.get_dbus_message())
        self.assertEqual(self.state(path_b), 'configuring')
        a.Start()
        self.assertDBusError('Conflict', '7400107: ', b.CommitConfig)
        a.Release()
        b.CommitConfig()
        b.Start()
        self.assertEqual(self.state(path_b), 'running')

    def test_remove_input_frees_camera(self):
        path_a, a, _ = self.committed_session()
        a.BeginConfig()
        a.RemoveInput(CAMERA)
        self.assertFalse(self.get_property(CAMERA, 'Camera', 'InUse'))
        path_b, b, _ = self.committed_session()
        self.assertEqual(self.state(path_b), 'committed')


class ProfileTest(SessionCase):
    def test_bad_profiles(self):
        path, s = self.new_session()
        cases = [
            ({'size': dbus.UInt32(5)}, "'size'"),
            ({'width': dbus.Int32(640)}, "'width'"),
            ({'height': 'tall'}, "'height'"),
            ({'fps': dbus.UInt32(30)}, "'fps'"),
            ({'format': dbus.UInt32(1)}, "'format'"),
            ({'format': 'RGB3'}, "'format'"),
            ({'format': '422P'}, "'format'"),
            ({'format': 'X' * 100000}, "'format'"),
            ({'width': dbus.UInt32(641)}, "'width'"),
            ({'width': dbus.UInt32(0)}, "'width'"),
            ({'height': dbus.UInt32(1 << 30)}, "'height'"),
            ({'fps': dbus.Double(-1)}, "'fps'"),
            ({'fps': dbus.Double(float('nan'))}, "'fps'"),
            ({'K' * 100000: dbus.UInt32(1)}, 'unknown'),
        ]
        for d, needle in cases:
            e = self.assertDBusError('InvalidArgument', '7400101: ', s.CreateOutput, 'preview',
                                     dbus.Dictionary(d, signature='sv'))
            self.assertIn(needle, e.get_dbus_message())
            self.assertLess(len(e.get_dbus_message()), 1024)
        for kind in ('audio', '', 'Preview', 'p' * 100000):
            e = self.assertDBusError('InvalidArgument', '7400101: ', s.CreateOutput, kind,
                                     profile())
            self.assertLess(len(e.get_dbus_message()), 1024)
        self.assertEqual(list(self.get_property(path, 'Session', 'Outputs')), [])

    def test_duplicate_profile_key(self):
        # dbus-python cannot build a dict with a key twice; busctl can. A persistent
        # session lets busctl's own connection (same uid) call it.
        path = self.manager.CreateSessionWithOptions(
            'photo', dbus.Dictionary({'persist': True}, signature='sv'))
        r = subprocess.run(['busctl', f'--address={self.address}', 'call', 'org.camerad.Camera1',
                            str(path), SESSION_IFACE, 'CreateOutput', 'sa{sv}', 'preview', '2',
                            'format', 's', 'NV12', 'format', 's', 'YUYV'],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('7400101: ', r.stderr)
        self.assertIn("'format' is given twice", r.stderr)
        self.assertEqual(list(self.get_property(path, 'Session', 'Outputs')), [])
        self.iface(path, 'Session').Release()

    def test_output_limit(self):
        path, s = self.new_session()
        for _ in range(16):
            s.CreateOutput('preview', profile())
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', s.CreateOutput, 'preview',
                                 profile())
        self.assertIn('16 outputs', e.get_dbus_message())
        self.assertEqual(len(self.get_property(path, 'Session', 'Outputs')), 16)

    def test_defaults_and_profile_property(self):
        path, s = self.new_session()
        out = s.CreateOutput('photo', dbus.Dictionary({}, signature='sv'))
        self.assertEqual(str(self.get_property(out, 'Output', 'Kind')), 'photo')
        p = self.get_property(out, 'Output', 'Profile')
        self.assertEqual((str(p['format']), int(p['width']), int(p['height']), float(p['fps'])),
                         ('YUYV', 640, 480, 0.0))
        out2 = s.CreateOutput('video', profile('NV12', 1280, 720, 25.0))
        p = self.get_property(out2, 'Output', 'Profile')
        self.assertEqual((str(p['format']), int(p['width']), int(p['height']), float(p['fps'])),
                         ('NV12', 1280, 720, 25.0))
        self.assertTrue(out2.startswith(path + '/output/'))

    def test_fps_beyond_camera(self):
        path, s = self.new_session()
        s.BeginConfig()
        s.AddInput(CAMERA)
        out = s.CreateOutput('preview', profile('YUYV', 640, 480, 120.0))
        self.assertFalse(s.CanAddOutput(out))
        e = self.assertDBusError('InvalidArgument', '7400101: ', s.AddOutput, out)
        self.assertIn('120', e.get_dbus_message())


class OwnerTest(SessionCase):
    def test_other_callers_are_denied(self):
        path, s = self.new_session()
        s.BeginConfig()
        # Another connection of the same uid is not the owner either.
        other = dbus.bus.BusConnection(self.address)
        self.addCleanup(other.close)
        o = dbus.Interface(other.get_object(camerad_test.BUS_NAME, path, introspect=False),
                           SESSION_IFACE)
        e = self.assertDBusError(ACCESS_DENIED, None, o.AddInput, CAMERA)
        self.assertIn(path, e.get_dbus_message())
        self.assertDBusError(ACCESS_DENIED, None, o.Release)
        r = self.call_as(NOBODY, path, 'Session', 'Release')
        self.assertCallError(r, ACCESS_DENIED)
        r = self.call_as(NOBODY, path, 'Session', 'CanAddInput', 'o', CAMERA)
        self.assertCallError(r, ACCESS_DENIED)
        self.assertEqual(self.state(path), 'configuring')
        # Reading properties is open to anyone.
        r = self.call_as(NOBODY, path, 'org.freedesktop.DBus.Properties', 'Get', 'ss',
                         SESSION_IFACE, 'State')
        self.assertEqual(self.assertCallOk(r), ['configuring'])


class CameraFailureTest(SessionCase):
    daemon_env = {'CAMERAD_TEST_FAIL_AFTER_FRAMES': '5'}

    def test_error_signal_and_back_to_committed(self):
        path, s, out = self.committed_session()
        rec = self.signals('Session', path=path, member='Error')
        s.Start()
        code, message = rec.wait_for('Error')
        self.assertEqual(int(code), 7400201)
        self.assertTrue(str(message).startswith('7400201: '), message)
        self.assertIn(CAMERA, str(message))
        camerad_test.wait_until(lambda: self.state(path) == 'committed')
        # The daemon goes on serving; the session can start again (and fail again).
        self.assertEqual(str(self.get_property(ROOT_PATH, 'Manager', 'Version')),
                         str(self.get_property(ROOT_PATH, 'Manager', 'Version')))
        s.Start()
        camerad_test.wait_until(lambda: len(rec.of('Error')) >= 2)
        camerad_test.wait_until(lambda: self.state(path) == 'committed')
        s.Release()


if __name__ == '__main__':
    camerad_test.main()
