# SPDX-License-Identifier: MIT
"""Shared cameras: Manager.CreateSessionWithOptions(mode, {"shared": true}) sessions join a
capture another session holds. Two clients (two bus connections) preview one camera at
once and both read whole YUV4MPEG2 frames (checked by ffprobe); the owner releases or
leaves the bus and the shared session keeps its frames; ConfigConflict for outputs the
capture cannot serve, Conflict (unchanged) for sessions that are not shared; InUse turns
false and the camera is free for anyone when the last session goes; a camera failure
reaches every session on it; the option's bad inputs."""

import re
import json
import os
import select
import socket
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import dbus

import camerad_test
from camerad_test import ROOT_PATH, wait_until

CAMERA = dbus.ObjectPath(ROOT_PATH + '/camera/0')
SESSION_IFACE = camerad_test.IFACE_PREFIX + 'Session'


def profile(fmt='YUYV', width=320, height=240, fps=30.0):
    return dbus.Dictionary({'format': fmt, 'width': dbus.UInt32(width),
                            'height': dbus.UInt32(height), 'fps': dbus.Double(fps)},
                           signature='sv')


def options(**kw):
    return dbus.Dictionary({k.replace('_', '-'): v for k, v in kw.items()}, signature='sv')


class Y4MReader:
    """Reads a preview socket and splits it into YUV4MPEG2 frames, checking that every
    frame starts with its FRAME marker where the header's size says it must."""

    def __init__(self, unix_fd):
        self.sock = socket.socket(fileno=unix_fd.take())
        self.sock.setblocking(False)
        self.buf = b''
        self.raw = b''       # everything read, for ffprobe
        self.header = None
        self.frame_size = None
        self.frames = 0

    def close(self):
        self.sock.close()

    def _parse(self):
        if self.header is None:
            if b'\n' not in self.buf:
                return
            line, self.buf = self.buf.split(b'\n', 1)
            self.header = line.decode()
            fields = dict((f[0], f[1:]) for f in self.header.split()[1:])
            w, h = int(fields['W']), int(fields['H'])
            chroma = fields.get('C', '420jpeg')
            self.frame_size = w * h * 2 if chroma.startswith('422') else w * h * 3 // 2
        while len(self.buf) >= 6 + self.frame_size:
            if self.buf[:6] != b'FRAME\n':
                raise AssertionError(f'frame {self.frames} does not start with FRAME: '
                                     f'{self.buf[:16]!r}')
            self.buf = self.buf[6 + self.frame_size:]
            self.frames += 1

    def _read_some(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise AssertionError('preview stream closed')
        self.buf += chunk
        self.raw += chunk
        self._parse()
        return True

    def drain(self):
        """Consume what is already in the socket (frames made before now)."""
        while self._read_some(0):
            pass

    def read_frames(self, n, timeout=10):
        """Wait until n more whole frames have arrived."""
        target = self.frames + n
        deadline = time.monotonic() + timeout
        while self.frames < target:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'{self.frames} frames, wanted {target} within {timeout} s')
            self._read_some(left)
        return self.frames


class SharedCase(camerad_test.CameradTestCase):
    def second_client(self):
        """Another client: its own bus connection (its own unique name)."""
        conn = dbus.bus.BusConnection(self.address)
        self.addCleanup(self._close_quietly, conn)
        return conn

    @staticmethod
    def _close_quietly(conn):
        try:
            conn.close()
        except Exception:
            pass

    def create(self, conn=None, mode='photo', **opts):
        conn = conn or self.bus
        mgr = dbus.Interface(conn.get_object(camerad_test.BUS_NAME, ROOT_PATH, introspect=False),
                             camerad_test.IFACE_PREFIX + 'Manager')
        if opts:
            path = mgr.CreateSessionWithOptions(mode, options(**opts))
        else:
            path = mgr.CreateSession(mode)
        s = dbus.Interface(conn.get_object(camerad_test.BUS_NAME, path, introspect=False),
                           SESSION_IFACE)
        self.addCleanup(self._release_quietly, s)
        return path, s

    def configure(self, s, kind='preview', **prof):
        s.BeginConfig()
        s.AddInput(CAMERA)
        out = s.CreateOutput(kind, profile(**prof))
        s.AddOutput(out)
        return out

    def preview_session(self, conn=None, start=True, **opts_and_prof):
        """A committed (and started) session with a preview output; opts: shared, persist."""
        opts = {k: dbus.Boolean(opts_and_prof.pop(k)) for k in ('shared', 'persist')
                if k in opts_and_prof}
        path, s = self.create(conn, **opts)
        out = self.configure(s, **opts_and_prof)
        s.CommitConfig()
        if start:
            s.Start()
        conn = conn or self.bus
        preview = dbus.Interface(conn.get_object(camerad_test.BUS_NAME, out, introspect=False),
                                 camerad_test.IFACE_PREFIX + 'PreviewOutput')
        return path, s, preview

    def state(self, path):
        return str(self.get_property(path, 'Session', 'State'))

    def in_use(self):
        return bool(self.get_property(CAMERA, 'Camera', 'InUse'))

    def assert_capture_free(self):
        """The camera is free: InUse false and a plain session commits and gets frames."""
        wait_until(lambda: not self.in_use(), timeout=5)
        path, s, preview = self.preview_session(width=640, height=480)
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        reader.read_frames(3)
        self.assertIn('W640 H480', reader.header)
        s.Release()


class TwoClientsTest(SharedCase):
    def test_two_clients_preview_one_camera(self):
        other = self.second_client()
        owner_path, owner, owner_preview = self.preview_session(other)
        shared_path, shared, shared_preview = self.preview_session(shared=True)
        self.assertEqual(self.state(owner_path), 'running')
        self.assertEqual(self.state(shared_path), 'running')
        self.assertTrue(bool(self.get_property(shared_path, 'Session', 'Shared')))
        self.assertFalse(bool(self.get_property(owner_path, 'Session', 'Shared')))

        readers = [Y4MReader(p.OpenStream()) for p in (owner_preview, shared_preview)]
        for r in readers:
            self.addCleanup(r.close)
        for r in readers:
            r.read_frames(10)
            self.assertTrue(r.header.startswith('YUV4MPEG2 W320 H240 '), r.header)
        # Whole frames as a tool nobody here wrote reads them.
        for i, r in enumerate(readers):
            end = len(r.raw) - len(r.buf)   # up to the last whole frame
            with tempfile.NamedTemporaryFile(suffix='.y4m') as f:
                f.write(r.raw[:end])
                f.flush()
                codec, w, h, n = camerad_test.ffprobe_frames(f.name)
            self.assertEqual((codec, w, h), ('rawvideo', 320, 240), f'reader {i}')
            self.assertEqual(n, r.frames, f'reader {i}')
        # One capture: the daemon started the camera once for both.
        self.assertEqual(len(re.findall(r'camera/0: capture start \d+', self.daemon_log())), 1,
                         self.daemon_log()[-3000:])

    def test_owner_release_keeps_shared_frames(self):
        owner_path, owner, _ = self.preview_session()
        shared_path, shared, preview = self.preview_session(shared=True)
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        reader.read_frames(5)

        owner.Release()
        self.assertEqual(self.state(shared_path), 'running')
        self.assertTrue(self.in_use())
        reader.drain()
        time.sleep(0.2)
        reader.drain()
        reader.read_frames(15)   # made after the owner had gone
        self.assertEqual(self.state(shared_path), 'running')

        # The shared session is now the holder named in Conflict.
        path, plain = self.create()
        self.configure(plain)
        e = self.assertDBusError('Conflict', '7400107: ', plain.CommitConfig)
        self.assertIn(shared_path, e.get_dbus_message())

        shared.Release()
        wait_until(lambda: not self.in_use(), timeout=5)
        plain.CommitConfig()
        plain.Start()
        self.assertEqual(self.state(path), 'running')

    def test_owner_disconnect_keeps_shared_frames(self):
        other = self.second_client()
        owner_path, owner, _ = self.preview_session(other)
        shared_path, shared, preview = self.preview_session(shared=True)
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        reader.read_frames(5)

        gone = self.signals('org.freedesktop.DBus.ObjectManager', member='InterfacesRemoved')
        other.close()
        gone.wait_for('InterfacesRemoved', lambda a: str(a[0]) == owner_path)
        self.assertEqual(self.state(shared_path), 'running')
        self.assertTrue(self.in_use())
        reader.drain()
        time.sleep(0.2)
        reader.drain()
        reader.read_frames(15)

        # Its own disconnect is the last one: the capture stops, the camera is free.
        shared.Release()
        self.assert_capture_free()

    def test_shared_leaves_first_owner_keeps_running(self):
        owner_path, owner, preview = self.preview_session()
        shared_path, shared, _ = self.preview_session(shared=True)
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        shared.Release()
        reader.drain()
        time.sleep(0.2)
        reader.drain()
        reader.read_frames(10)
        self.assertEqual(self.state(owner_path), 'running')
        owner.Release()
        self.assert_capture_free()

    def test_stop_and_start_each_while_the_other_runs(self):
        owner_path, owner, owner_preview = self.preview_session()
        shared_path, shared, shared_preview = self.preview_session(shared=True)
        owner_reader = Y4MReader(owner_preview.OpenStream())
        shared_reader = Y4MReader(shared_preview.OpenStream())
        self.addCleanup(owner_reader.close)
        self.addCleanup(shared_reader.close)

        owner.Stop()
        shared_reader.drain()
        shared_reader.read_frames(10)
        time.sleep(0.3)            # frames in flight at Stop arrive
        owner_reader.drain()
        n = owner_reader.frames
        time.sleep(0.3)
        owner_reader.drain()
        self.assertEqual(owner_reader.frames, n, 'a stopped session got frames')
        owner.Start()
        owner_reader.read_frames(5)

        shared.Stop()
        shared.Start()
        shared_reader.read_frames(5)
        self.assertEqual(self.state(owner_path), 'running')
        self.assertEqual(self.state(shared_path), 'running')

        # Both stopped: the capture stops though both still hold the camera.
        owner.Stop()
        shared.Stop()
        self.assertTrue(self.in_use())
        wait_until(lambda: 'camera/0: capture stopped' in self.daemon_log(), timeout=5)
        owner.Release()
        self.assertTrue(self.in_use())
        shared.Release()
        self.assert_capture_free()

    def test_photo_and_recording_from_shared_sessions(self):
        """Every output kind takes its frames from the one capture: a shared photo session
        captures and a shared video session records while the owner previews."""
        owner_path, owner, preview = self.preview_session(width=640, height=480, fps=30.0)
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        photo_path, photo_session = self.create(shared=dbus.Boolean(True))
        photo_out = self.configure(photo_session, kind='photo', width=640, height=480)
        photo_session.CommitConfig()
        photo_session.Start()
        video_path, video_session = self.create(mode='video', shared=dbus.Boolean(True))
        video_out = self.configure(video_session, kind='video', width=640, height=480,
                                   fps=15.0)
        video_session.CommitConfig()
        video_session.Start()

        photo = self.iface(photo_out, 'PhotoOutput')
        image_id = str(photo.Capture(dbus.Dictionary({'burst': dbus.UInt32(2)},
                                                     signature='sv')))
        ips = self.iface(self.manager.GetImageProcessSession(), 'ImageProcessSession')
        fd, kind = ips.OpenImage(image_id)
        self.assertEqual(str(kind), 'proxy')
        self.assertEqual(camerad_test.djpeg_decodes(camerad_test.read_fd(fd)), (True, 640, 480))

        vo = self.iface(video_out, 'VideoOutput')
        with tempfile.NamedTemporaryFile(suffix='.avi', dir=self.workdir) as f:
            vo.StartRecording(dbus.types.UnixFd(f.fileno()),
                              dbus.Dictionary({'deferred': dbus.Boolean(False)}, signature='sv'))
            time.sleep(1.5)
            vo.StopRecording()
            codec, w, h, frames = camerad_test.ffprobe_frames(f.name)
        self.assertEqual((codec, w, h), ('mjpeg', 640, 480))
        # ~22 at 15 fps in 1.5 s: the recorder thins the 30 fps capture to its own rate.
        self.assertGreaterEqual(frames, 1 if self.daemon.valgrind else 10)
        self.assertLessEqual(frames, 30)
        reader.read_frames(10)
        for p in (owner_path, photo_path, video_path):
            self.assertEqual(self.state(p), 'running')

    def test_shared_joins_a_committed_capture(self):
        """The holder has committed but not started: the shared session starts the capture
        alone, in the holder's format, and the holder joins it later."""
        owner_path, owner, owner_preview = self.preview_session(start=False, fps=30.0)
        shared_path, shared, preview = self.preview_session(shared=True, fps=10.0)
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        reader.read_frames(5)
        self.assertIn('F10:1', reader.header)
        owner.Start()
        owner_reader = Y4MReader(owner_preview.OpenStream())
        self.addCleanup(owner_reader.close)
        owner_reader.read_frames(5)


class RulesTest(SharedCase):
    def test_format_must_match_the_capture_in_use(self):
        owner_path, owner, _ = self.preview_session(fps=15.0)
        cases = (
            (dict(fmt='NV12'), 'the preview output is NV12 320x240'),
            (dict(width=640, height=480), 'the preview output is YUYV 640x480'),
            (dict(fps=30.0), 'at 15 fps or less, the preview output is YUYV 320x240 at 30 fps'),
        )
        for prof, detail in cases:
            with self.subTest(**prof):
                path, shared = self.create(shared=dbus.Boolean(True))
                self.configure(shared, **prof)
                e = self.assertDBusError('ConfigConflict', '7400110: ', shared.CommitConfig)
                msg = e.get_dbus_message()
                self.assertIn(f'camera {CAMERA} is shared with session {owner_path} and runs '
                              'YUYV 320x240 at 15 fps', msg)
                self.assertIn(detail, msg)
                self.assertEqual(self.state(path), 'configuring')
                shared.Release()
        # A slower or "as fast as it runs" output joins; a photo output too.
        for fps in (15.0, 5.0, 0.0):
            with self.subTest(fps=fps):
                p, s = self.create(shared=dbus.Boolean(True))
                self.configure(s, kind='photo', fps=fps)
                s.CommitConfig()
                s.Start()
                self.assertEqual(self.state(p), 'running')
        self.assertEqual(self.state(owner_path), 'running')

    def test_owner_cannot_change_the_format_while_shared(self):
        owner_path, owner, _ = self.preview_session()
        shared_path, shared, _ = self.preview_session(shared=True)
        owner.BeginConfig()                    # stops the owner; the shared one goes on
        self.assertEqual(self.state(shared_path), 'running')
        out = [o for o in self.get_property(owner_path, 'Session', 'Outputs')][0]
        owner.RemoveOutput(out)
        bigger = owner.CreateOutput('preview', profile(width=640, height=480))
        owner.AddOutput(bigger)
        e = self.assertDBusError('ConfigConflict', '7400110: ', owner.CommitConfig)
        self.assertIn(shared_path, e.get_dbus_message())
        self.assertIn('runs YUYV 320x240', e.get_dbus_message())
        owner.RemoveOutput(bigger)
        owner.AddOutput(out)
        owner.CommitConfig()                   # the same format: fine
        owner.Start()
        # Alone again, it may change the format.
        shared.Release()
        owner.BeginConfig()
        owner.RemoveOutput(out)
        owner.AddOutput(bigger)
        owner.CommitConfig()
        owner.Start()
        self.assertEqual(self.state(owner_path), 'running')

    def test_plain_session_gets_conflict(self):
        owner_path, owner, _ = self.preview_session()
        path, plain = self.create(mode='video')
        self.configure(plain, kind='video')
        e = self.assertDBusError('Conflict', '7400107: ', plain.CommitConfig)
        self.assertIn(owner_path, e.get_dbus_message())
        self.assertIn(CAMERA, e.get_dbus_message())
        # Also when only shared sessions hold the camera: a plain session never joins.
        shared_path, shared, _ = self.preview_session(shared=True)
        owner.Release()
        e = self.assertDBusError('Conflict', '7400107: ', plain.CommitConfig)
        self.assertIn(shared_path, e.get_dbus_message())
        self.assertEqual(self.state(path), 'configuring')

    def test_shared_session_on_an_idle_camera_becomes_the_holder(self):
        path, shared, preview = self.preview_session(shared=True, width=640, height=480)
        self.assertTrue(self.in_use())
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        reader.read_frames(5)
        self.assertIn('W640 H480', reader.header)
        # It set the format: a second shared session must fit it, a plain one conflicts.
        p2, s2 = self.create(shared=dbus.Boolean(True))
        self.configure(s2)
        e = self.assertDBusError('ConfigConflict', '7400110: ', s2.CommitConfig)
        self.assertIn('runs YUYV 640x480', e.get_dbus_message())
        p3, s3 = self.create()
        self.configure(s3, width=640, height=480)
        e = self.assertDBusError('Conflict', '7400107: ', s3.CommitConfig)
        self.assertIn(path, e.get_dbus_message())
        # Alone it may set another format by committing again.
        shared.BeginConfig()
        out = [o for o in self.get_property(path, 'Session', 'Outputs')][0]
        shared.RemoveOutput(out)
        small = shared.CreateOutput('preview', profile(fmt='NV12'))
        shared.AddOutput(small)
        shared.CommitConfig()
        shared.Start()
        self.assertEqual(self.state(path), 'running')
        shared.Release()
        self.assert_capture_free()

    def test_in_use_until_the_last_session_goes(self):
        changes = self.signals('org.freedesktop.DBus.Properties', path=CAMERA,
                               member='PropertiesChanged')
        self.assertFalse(self.in_use())
        a_path, a, _ = self.preview_session()
        b_path, b, _ = self.preview_session(shared=True)
        c_path, c, _ = self.preview_session(shared=True, start=False)  # committed only
        self.assertTrue(self.in_use())
        a.Release()
        b.Release()
        self.assertTrue(self.in_use(), 'a committed shared session still holds the camera')
        c.Start()
        c.Release()
        wait_until(lambda: not self.in_use(), timeout=5)
        # Emitted once on the first holder and once as the last one goes.
        wait_until(lambda: [bool(args[1]['InUse']) for m, _, args in changes.signals
                            if 'InUse' in args[1]] == [True, False], timeout=5)
        self.assert_capture_free()

    def test_capture_format_tells_what_fits(self):
        changes = self.signals('org.freedesktop.DBus.Properties', path=CAMERA,
                               member='PropertiesChanged')
        fmt = lambda: tuple(self.get_property(CAMERA, 'Camera', 'CaptureFormat'))
        self.assertEqual(fmt(), ('', 0, 0, 0.0))
        owner_path, owner, _ = self.preview_session(fmt='NV12', width=640, height=480,
                                                    fps=15.0)
        self.assertEqual(fmt(), ('NV12', 640, 480, 15.0))
        # A client reads it and picks a profile that fits.
        f, w, h, rate = fmt()
        path, shared, _ = self.preview_session(shared=True, fmt=str(f), width=int(w),
                                               height=int(h), fps=float(rate))
        self.assertEqual(self.state(path), 'running')
        owner.Release()
        self.assertEqual(fmt(), ('NV12', 640, 480, 15.0), 'the format stays')
        # Alone, the shared session changes it; fps 0 reads as the camera's fastest rate.
        shared.BeginConfig()
        out = [o for o in self.get_property(path, 'Session', 'Outputs')][0]
        shared.RemoveOutput(out)
        shared.AddOutput(shared.CreateOutput('preview', profile(fps=0.0)))
        shared.CommitConfig()
        fastest = [float(r) for (ff, ww, hh, r) in self.get_property(CAMERA, 'Camera', 'Formats')
                   if (str(ff), int(ww), int(hh)) == ('YUYV', 320, 240)][0]
        self.assertEqual(fmt(), ('YUYV', 320, 240, fastest))
        shared.Release()
        self.assertEqual(fmt(), ('', 0, 0, 0.0))
        wait_until(lambda: [tuple(a[1]['CaptureFormat']) for m, _, a in changes.signals
                            if 'CaptureFormat' in a[1]] ==
                   [('NV12', 640, 480, 15.0), ('YUYV', 320, 240, fastest), ('', 0, 0, 0.0)],
                   timeout=5)

    def test_remove_input_leaves_the_capture(self):
        owner_path, owner, _ = self.preview_session()
        shared_path, shared, _ = self.preview_session(shared=True)
        shared.BeginConfig()
        shared.RemoveInput(CAMERA)
        self.assertTrue(self.in_use())
        owner.Release()
        self.assert_capture_free()

    def test_set_controls_is_not_allowed(self):
        path, shared, _ = self.preview_session(shared=True)
        intro = self.obj(path).Introspect(dbus_interface='org.freedesktop.DBus.Introspectable')
        methods = {m.get('name') for i in ET.fromstring(str(intro)).iter('interface')
                   if i.get('name') == SESSION_IFACE for m in i.iter('method')}
        if 'SetControls' not in methods:
            raise unittest.SkipTest('Session.SetControls is not on this branch')
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', shared.SetControls,
                                 dbus.Dictionary({'brightness': dbus.Int64(10)}, signature='sv'))
        self.assertIn('shared', e.get_dbus_message())


class OptionsTest(SharedCase):
    def test_shared_with_a_wrong_type(self):
        for value, got in ((dbus.String('yes'), "'s'"), (dbus.UInt32(1), "'u'"),
                           (dbus.Int32(1), "'i'")):
            with self.subTest(value=value):
                e = self.assertDBusError('InvalidArgument', '7400101: ',
                                         self.manager.CreateSessionWithOptions, 'photo',
                                         options(shared=value))
                self.assertIn("options key 'shared' must be of type 'b'", e.get_dbus_message())
                self.assertIn(got, e.get_dbus_message())
        e = self.assertDBusError('InvalidArgument', '7400101: ',
                                 self.manager.CreateSessionWithOptions, 'photo',
                                 options(shared=dbus.Boolean(True), sharde=dbus.Boolean(True)))
        self.assertIn("unknown options key 'sharde'", e.get_dbus_message())

    def test_shared_false_is_a_plain_session(self):
        path, s = self.create(shared=dbus.Boolean(False))
        self.assertFalse(bool(self.get_property(path, 'Session', 'Shared')))
        self.assertFalse(bool(self.get_property(path, 'Session', 'Persistent')))
        plain_path, plain = self.create()
        self.assertFalse(bool(self.get_property(plain_path, 'Session', 'Shared')))

    def test_shared_and_persistent(self):
        owner_path, owner, _ = self.preview_session()
        path, s, preview = self.preview_session(shared=True, persist=True)
        self.assertTrue(bool(self.get_property(path, 'Session', 'Shared')))
        self.assertTrue(bool(self.get_property(path, 'Session', 'Persistent')))
        # Another connection of the same uid drives a persistent session.
        other = self.second_client()
        again = dbus.Interface(other.get_object(camerad_test.BUS_NAME, path, introspect=False),
                               SESSION_IFACE)
        again.Stop()
        again.Start()
        self.assertEqual(self.state(path), 'running')
        owner.Release()
        self.assertEqual(self.state(path), 'running')
        reader = Y4MReader(preview.OpenStream())
        self.addCleanup(reader.close)
        reader.read_frames(5)


class CamctlTest(SharedCase):
    """camctl preview --shared next to an app that holds the camera."""

    def camctl(self, *args):
        if not camerad_test.CAMCTL_BIN or not os.access(camerad_test.CAMCTL_BIN, os.X_OK):
            self.skipTest('camctl not built')
        return subprocess.run([camerad_test.CAMCTL_BIN, f'--address={self.address}', *args],
                              capture_output=True, timeout=60)

    def test_preview_shared_takes_the_format_in_use(self):
        other = self.second_client()
        owner_path, owner, _ = self.preview_session(other, fmt='NV12', width=640, height=480,
                                                    fps=15.0)
        out = os.path.join(self.workdir, f'{self.id()}.y4m')
        r = self.camctl('--json', 'preview', '--shared', '--frames', '5', '-o', out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)['frames'], 5)
        codec, w, h, n = camerad_test.ffprobe_frames(out)
        self.assertEqual((codec, w, h, n), ('rawvideo', 640, 480, 5))
        with open(out, 'rb') as f:
            self.assertIn(b' F15:1 ', f.readline())
        self.assertEqual(self.state(owner_path), 'running')

        # Without --shared: Conflict, as before; a size that does not fit: ConfigConflict.
        r = self.camctl('preview', '--frames', '1', '-o', out)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b'Conflict', r.stderr)
        self.assertIn(owner_path.encode(), r.stderr)
        r = self.camctl('preview', '--shared', '-s', '320x240', '--frames', '1', '-o', out)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b'runs NV12 640x480 at 15 fps', r.stderr)

    def test_preview_shared_on_a_free_camera(self):
        out = os.path.join(self.workdir, f'{self.id()}.y4m')
        r = self.camctl('--json', 'preview', '--shared', '-s', '320x240', '--frames', '3',
                        '-o', out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(camerad_test.ffprobe_frames(out)[1:], (320, 240, 3))
        wait_until(lambda: not self.in_use(), timeout=5)


class CameraFailureTest(SharedCase):
    daemon_env = {'CAMERAD_TEST_FAIL_AFTER_FRAMES': '20'}

    def test_error_reaches_every_session(self):
        errors = self.signals('Session', member='Error')
        other = self.second_client()
        owner_path, owner, _ = self.preview_session(other)
        shared_path, shared, _ = self.preview_session(shared=True)
        wait_until(lambda: {p for m, p, a in errors.of('Error')} == {owner_path, shared_path},
                   timeout=10)
        for m, p, (code, message) in errors.of('Error'):
            self.assertEqual(int(code), 7400201)
            self.assertTrue(str(message).startswith('7400201: camera ' + CAMERA), message)
            self.assertIn('CAMERAD_TEST_FAIL_AFTER_FRAMES', str(message))
        wait_until(lambda: self.state(owner_path) == 'committed'
                   and self.state(shared_path) == 'committed', timeout=5)
        self.assertEqual(len(errors.of('Error')), 2, errors.of('Error'))
        # Both still hold the camera; both may start again (and fail again).
        self.assertTrue(self.in_use())
        shared.Start()
        wait_until(lambda: len(errors.of('Error')) == 3, timeout=10)
        self.assertEqual(errors.of('Error')[-1][1], shared_path)
        owner.Release()
        shared.Release()
        self.assert_capture_free_after_failure()

    def assert_capture_free_after_failure(self):
        wait_until(lambda: not self.in_use(), timeout=5)
        path, s = self.create()
        self.configure(s)
        s.CommitConfig()
        s.Start()
        self.assertEqual(self.state(path), 'running')
        s.Release()


if __name__ == '__main__':
    camerad_test.main()
