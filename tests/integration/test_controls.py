# SPDX-License-Identifier: MIT
"""Camera controls on the virtual camera: Camera.Controls with its types, SetControls only
from committed or running sessions that are not shared, every bad input refused naming the
control with nothing applied, brightness seen in the preview's mean luma, PropertiesChanged
of Camera.Controls, GetControls, and another uid refused."""

import socket
import time

import dbus

import camerad_test
from camerad_test import ACCESS_DENIED, NOBODY, ROOT_PATH

CAMERA = dbus.ObjectPath(ROOT_PATH + '/camera/0')
W, H = 320, 240
NV12_FRAME = W * H * 3 // 2


def sv(**kw):
    return dbus.Dictionary({k.replace('_', '-'): v for k, v in kw.items()}, signature='sv')


class ControlsCase(camerad_test.CameradTestCase):
    def controls(self):
        return self.get_property(CAMERA, 'Camera', 'Controls')

    def values(self):
        return {str(k): int(v['value']) for k, v in self.controls().items()}

    def session(self, state='running', shared=False, preview=True):
        """A session on the camera in `state` (idle, configuring, committed, running)."""
        if shared:
            path = self.manager.CreateSessionWithOptions('photo', sv(shared=dbus.Boolean(True)))
        else:
            path = self.manager.CreateSession('photo')
        s = self.iface(path, 'Session')
        self.addCleanup(self._release_quietly, s)
        out = None
        if state == 'idle':
            return path, s, out
        s.BeginConfig()
        s.AddInput(CAMERA)
        if state == 'configuring':
            return path, s, out
        out = s.CreateOutput('preview' if preview else 'photo', dbus.Dictionary(
            {'format': 'NV12', 'width': dbus.UInt32(W), 'height': dbus.UInt32(H)}, signature='sv'))
        s.AddOutput(out)
        s.CommitConfig()
        if state == 'running':
            s.Start()
        return path, s, out


class ControlsListTest(ControlsCase):
    def test_listed_with_types(self):
        c = self.controls()
        self.assertIsInstance(c, dbus.Dictionary)
        self.assertEqual(c.signature, 'sa{sv}')
        for name in ('brightness', 'contrast', 'saturation', 'horizontal-flip', 'zoom-absolute',
                     'vertical-flip', 'color-effects'):
            self.assertIn(name, c)
        keys = {'type', 'min', 'max', 'step', 'default', 'value', 'read-only', 'inactive'}
        for name, d in c.items():
            want = keys | ({'menu'} if d['type'] == 'menu' else set())
            self.assertEqual(set(d.keys()), want, name)
            for k in ('min', 'max', 'step', 'default', 'value'):
                self.assertIsInstance(d[k], dbus.Int64, f'{name} {k}')
            self.assertIsInstance(d['read-only'], dbus.Boolean)
            self.assertIsInstance(d['inactive'], dbus.Boolean)
        b = c['brightness']
        self.assertEqual((b['type'], b['min'], b['max'], b['step'], b['default'], b['value']),
                         ('integer', 0, 255, 1, 128, 128))
        self.assertEqual(c['horizontal-flip']['type'], 'boolean')
        self.assertEqual((c['zoom-absolute']['min'], c['zoom-absolute']['max']), (100, 400))
        fx = c['color-effects']
        self.assertEqual(fx['type'], 'menu')
        self.assertEqual(fx['menu'].signature, 'xs')
        self.assertEqual({int(k): str(v) for k, v in fx['menu'].items()},
                         {0: 'None', 1: 'Black & White', 2: 'Sepia', 3: 'Negative'})

    def test_busctl_reads_it(self):
        # A tool nobody here wrote parses the property.
        import subprocess
        r = subprocess.run(['busctl', f'--address={self.address}', 'get-property',
                            'org.camerad.Camera1', str(CAMERA), 'org.camerad.Camera1.Camera',
                            'Controls'], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('a{sa{sv}} 7 '), r.stdout[:80])
        self.assertIn('"brightness"', r.stdout)


class SetControlsTest(ControlsCase):
    def test_states(self):
        for state in ('idle', 'configuring'):
            _, s, _ = self.session(state)
            self.assertDBusError('OperationNotAllowed', '7400102: ', s.SetControls,
                                 sv(brightness=dbus.Int64(10)))
            s.Release()
        self.assertEqual(self.values()['brightness'], 128)
        _, s, _ = self.session('committed')
        s.SetControls(sv(brightness=dbus.Int64(10)))
        self.assertEqual(self.values()['brightness'], 10)
        s.Start()
        s.SetControls(sv(brightness=dbus.Int32(20)))
        self.assertEqual(self.values()['brightness'], 20)
        self.assertEqual(int(s.GetControls()['brightness']), 20)

    def test_value_types_and_menu_names(self):
        _, s, _ = self.session('committed')
        s.SetControls(sv(contrast=dbus.UInt32(100), horizontal_flip=dbus.Boolean(True),
                         color_effects='Sepia', zoom_absolute=dbus.Int64(250)))
        v = self.values()
        self.assertEqual((v['contrast'], v['horizontal-flip'], v['color-effects'], v['zoom-absolute']),
                         (100, 1, 2, 250))
        # A menu by number, a boolean by number.
        s.SetControls(sv(color_effects=dbus.Int32(3), horizontal_flip=dbus.Int32(0)))
        v = self.values()
        self.assertEqual((v['color-effects'], v['horizontal-flip']), (3, 0))
        got = s.GetControls()
        self.assertEqual(got.signature, 'sv')
        self.assertEqual(set(got.keys()), set(self.controls().keys()))
        self.assertTrue(all(isinstance(x, dbus.Int64) for x in got.values()))
        s.SetControls(sv())  # nothing to set: fine

    def test_bad_inputs_name_the_control_and_set_nothing(self):
        _, s, _ = self.session('committed')
        before = self.values()
        bad = [
            ('no-such-control', dbus.Int64(1)),
            ('brightness', 'bright'),           # a name for an integer
            ('brightness', dbus.Boolean(True)),  # a boolean for an integer
            ('brightness', dbus.Double(1.5)),    # no such value type
            ('brightness', dbus.Int64(256)),     # out of range
            ('zoom-absolute', dbus.Int64(99)),
            ('horizontal-flip', dbus.Int32(2)),
            ('color-effects', 'Purple'),         # no such item
            ('color-effects', dbus.Int32(9)),
            ('color-effects', dbus.Boolean(True)),
        ]
        for name, value in bad:
            with self.subTest(name=name, value=value):
                # A valid one in the same call is not applied either.
                e = self.assertDBusError('InvalidArgument', '7400101: ', s.SetControls,
                                         dbus.Dictionary({'contrast': dbus.Int64(7), name: value},
                                                         signature='sv'))
                self.assertIn(name, e.get_dbus_message())
                self.assertEqual(self.values(), before)
        self.assertEqual({k: int(v) for k, v in s.GetControls().items()}, before)
        self.assertTrue(self.daemon.running)

    def test_shared_session_refused(self):
        _, owner, _ = self.session('running')
        _, s, _ = self.session('committed', shared=True)
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', s.SetControls,
                                 sv(brightness=dbus.Int64(10)))
        self.assertIn('shared', e.get_dbus_message())
        self.assertEqual(self.values()['brightness'], 128)
        # It may read them.
        self.assertEqual(int(s.GetControls()['brightness']), 128)
        owner.SetControls(sv(brightness=dbus.Int64(30)))
        self.assertEqual(int(s.GetControls()['brightness']), 30)

    def test_get_controls_needs_an_input(self):
        _, s, _ = self.session('idle')
        self.assertDBusError('OperationNotAllowed', '7400102: ', s.GetControls)

    def test_other_uid_refused(self):
        path, s, _ = self.session('committed')
        r = self.call_as(NOBODY, path, 'Session', 'SetControls', 'a{sv}',
                         {'brightness': dbus.Int64(1)})
        self.assertCallError(r, ACCESS_DENIED)
        self.assertIn('belongs to', r.error_message)
        r = self.call_as(NOBODY, path, 'Session', 'GetControls')
        self.assertCallError(r, ACCESS_DENIED)
        self.assertEqual(self.values()['brightness'], 128)

    def test_properties_changed(self):
        rec = self.signals('org.freedesktop.DBus.Properties', path=str(CAMERA),
                           member='PropertiesChanged')
        _, s, _ = self.session('committed')
        s.SetControls(sv(brightness=dbus.Int64(77)))

        def changed(args):
            iface, props = args[0], args[1]
            return (iface == 'org.camerad.Camera1.Camera' and 'Controls' in props and
                    int(props['Controls']['brightness']['value']) == 77)
        self.assertIsNotNone(rec.wait_for('PropertiesChanged', changed))


def read_frames(sock_fd, n, timeout=10):
    """The luma planes of frames n-1 and on of a YUV4MPEG2 NV12 (C420jpeg) stream."""
    fd = sock_fd.take()
    data = b''
    with socket.socket(fileno=fd) as sk:
        sk.settimeout(timeout)
        while b'\n' not in data:
            data += sk.recv(4096)
        header, data = data.split(b'\n', 1)
        need = n * (6 + NV12_FRAME)
        deadline = time.monotonic() + timeout
        while len(data) < need and time.monotonic() < deadline:
            chunk = sk.recv(need - len(data))
            if not chunk:
                break
            data += chunk
    last = data[(n - 1) * (6 + NV12_FRAME):]
    assert last.startswith(b'FRAME\n'), last[:16]
    return last[6:6 + W * H]


def mean(b):
    return sum(b) / len(b)


class PictureTest(ControlsCase):
    def test_brightness_changes_the_preview(self):
        _, s, out = self.session('running')
        preview = self.iface(out, 'PreviewOutput')
        before = mean(read_frames(preview.OpenStream(), 3))
        s.SetControls(sv(brightness=dbus.Int64(230)))
        # A new stream, its first frames perhaps from before the change: take the 4th.
        after = mean(read_frames(preview.OpenStream(), 4))
        self.assertGreater(after, before + 40, f'mean luma {before:.1f} → {after:.1f}')
        s.SetControls(sv(brightness=dbus.Int64(128)))
        again = mean(read_frames(preview.OpenStream(), 4))
        self.assertLess(abs(again - before), 10, f'mean luma {before:.1f} → {again:.1f}')


if __name__ == '__main__':
    camerad_test.main()
