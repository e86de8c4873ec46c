# SPDX-License-Identifier: MIT
"""Outputs on a running session of the virtual camera: the preview stream read by ffprobe,
PhotoOutput.Capture with its proxy decoded by djpeg, VideoOutput recordings checked by
ffprobe, and every bad input (settings, file descriptors, states, other callers)."""

import os
import re
import socket
import subprocess
import tempfile
import time

import dbus

import camerad_test
from camerad_test import ACCESS_DENIED, NOBODY, ROOT_PATH

CAMERA = dbus.ObjectPath(ROOT_PATH + '/camera/0')


def profile(fmt='YUYV', width=320, height=240, fps=30.0):
    return dbus.Dictionary({'format': fmt, 'width': dbus.UInt32(width),
                            'height': dbus.UInt32(height), 'fps': dbus.Double(fps)},
                           signature='sv')


def settings(**kw):
    return dbus.Dictionary(kw, signature='sv')


class OutputCase(camerad_test.CameradTestCase):
    def session_with(self, kinds, fmt='YUYV', width=320, height=240, start=True):
        path = self.manager.CreateSession('video' if 'video' in kinds else 'photo')
        s = self.iface(path, 'Session')
        s.BeginConfig()
        s.AddInput(CAMERA)
        outs = {}
        for kind in kinds:
            outs[kind] = s.CreateOutput(kind, profile(fmt, width, height))
            s.AddOutput(outs[kind])
        s.CommitConfig()
        if start:
            s.Start()
        return path, s, outs


def read_stream(sock_fd, nbytes, timeout=10):
    """Reads nbytes from the preview socket fd (a dbus UnixFd)."""
    fd = sock_fd.take()
    data = b''
    deadline = time.monotonic() + timeout
    with socket.socket(fileno=fd) as sk:
        sk.settimeout(timeout)
        while len(data) < nbytes and time.monotonic() < deadline:
            chunk = sk.recv(min(1 << 20, nbytes - len(data)))
            if not chunk:
                break
            data += chunk
    return data


class PreviewTest(OutputCase):
    def check_stream(self, fmt, colorspace, pix_fmt, frame_size):
        path, s, outs = self.session_with(['preview'], fmt)
        preview = self.iface(outs['preview'], 'PreviewOutput')
        header_len = len(f'YUV4MPEG2 W320 H240 F30:1 Ip A1:1 {colorspace}\n')
        frames = 5
        data = read_stream(preview.OpenStream(), header_len + frames * (6 + frame_size))
        self.assertTrue(data.startswith(b'YUV4MPEG2 '), data[:80])
        header = data.split(b'\n', 1)[0].decode()
        self.assertIn('W320', header)
        self.assertIn('H240', header)
        self.assertIn(colorspace, header)
        # Whole frames only: each starts with FRAME at its place.
        offset = len(header) + 1
        for i in range(frames):
            self.assertEqual(data[offset:offset + 6], b'FRAME\n', f'frame {i}')
            offset += 6 + frame_size
        with tempfile.NamedTemporaryFile(suffix='.y4m') as f:
            f.write(data)
            f.flush()
            r = subprocess.run(['ffprobe', '-v', 'error', '-count_frames', '-show_entries',
                                'stream=width,height,pix_fmt,nb_read_frames', '-of',
                                'default=nw=1', f.name], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('width=320', r.stdout)
        self.assertIn('height=240', r.stdout)
        self.assertIn(f'pix_fmt={pix_fmt}', r.stdout)
        self.assertIn(f'nb_read_frames={frames}', r.stdout)
        dropped = self.get_property(outs['preview'], 'PreviewOutput', 'DroppedFrames')
        self.assertIsInstance(dropped, dbus.UInt64)

    def test_nv12_stream(self):
        self.check_stream('NV12', 'C420jpeg', 'yuv420p', 320 * 240 * 3 // 2)

    def test_yuyv_stream(self):
        self.check_stream('YUYV', 'C422', 'yuv422p', 320 * 240 * 2)

    def test_stream_opened_before_start_and_two_readers(self):
        path, s, outs = self.session_with(['preview'], 'NV12', start=False)
        preview = self.iface(outs['preview'], 'PreviewOutput')
        a = preview.OpenStream()
        b = preview.OpenStream()
        s.Start()
        for fd in (a, b):
            data = read_stream(fd, 200000)
            self.assertTrue(data.startswith(b'YUV4MPEG2 '))
            self.assertIn(b'FRAME\n', data)

    def test_other_callers_cannot_open(self):
        path, s, outs = self.session_with(['preview'])
        r = self.call_as(NOBODY, outs['preview'], 'PreviewOutput', 'OpenStream')
        self.assertCallError(r, ACCESS_DENIED)


class PhotoTest(OutputCase):
    def test_capture_and_proxy(self):
        path, s, outs = self.session_with(['photo', 'preview'], 'NV12', 640, 480)
        photo = self.iface(outs['photo'], 'PhotoOutput')
        rec = self.signals('PhotoOutput', path=outs['photo'], member='PhotoAvailable')
        image_id = str(photo.Capture(settings()))
        self.assertRegex(image_id, r'^[0-9a-f]{32}$')
        self.assertEqual(rec.wait_for('PhotoAvailable', lambda a: str(a[0]) == image_id)[1], True)
        ips_path = self.manager.GetImageProcessSession()
        ips = self.iface(ips_path, 'ImageProcessSession')
        self.assertIn(image_id, [str(i) for i in ips.GetPendingImages()])
        fd, kind = ips.OpenImage(image_id)
        self.assertEqual(str(kind), 'proxy')
        ok, w, h = camerad_test.djpeg_decodes(camerad_test.read_fd(fd))
        self.assertTrue(ok)
        self.assertEqual((w, h), (640, 480))

        not_deferred = str(photo.Capture(settings(deferred=dbus.Boolean(False),
                                                  burst=dbus.UInt32(1),
                                                  quality=dbus.UInt32(50))))
        self.assertNotEqual(not_deferred, image_id)
        rec.wait_for('PhotoAvailable', lambda a: str(a[0]) == not_deferred and not a[1])
        info = ips.GetImageInfo(not_deferred)
        self.assertEqual(int(info['frames']), 1)

    def test_capture_yuyv_burst(self):
        path, s, outs = self.session_with(['photo'], 'YUYV', 320, 240)
        photo = self.iface(outs['photo'], 'PhotoOutput')
        image_id = str(photo.Capture(settings(burst=dbus.UInt32(6))))
        ips = self.iface(self.manager.GetImageProcessSession(), 'ImageProcessSession')
        info = ips.GetImageInfo(image_id)
        self.assertEqual((int(info['width']), int(info['height']), int(info['frames'])), (320, 240, 6))

    def test_capture_needs_running(self):
        path, s, outs = self.session_with(['photo'], start=False)
        photo = self.iface(outs['photo'], 'PhotoOutput')
        e = self.assertDBusError('SessionNotRunning', '7400104: ', photo.Capture, settings())
        self.assertIn("'committed'", e.get_dbus_message())
        s.Start()
        s.Stop()
        self.assertDBusError('SessionNotRunning', '7400104: ', photo.Capture, settings())

    def test_bad_settings(self):
        path, s, outs = self.session_with(['photo'])
        photo = self.iface(outs['photo'], 'PhotoOutput')
        cases = [
            (settings(quality=dbus.UInt32(0)), "'quality'"),
            (settings(quality=dbus.UInt32(101)), "'quality'"),
            (settings(quality=dbus.Int32(90)), "'quality'"),
            (settings(burst=dbus.UInt32(0)), "'burst'"),
            (settings(burst=dbus.UInt32(17)), "'burst'"),
            (settings(deferred='yes'), "'deferred'"),
            (settings(flash=dbus.Boolean(True)), "'flash'"),
            (dbus.Dictionary({'q' * 100000: dbus.UInt32(1)}, signature='sv'), 'unknown'),
        ]
        for d, needle in cases:
            e = self.assertDBusError('InvalidArgument', '7400101: ', photo.Capture, d)
            self.assertIn(needle, e.get_dbus_message())
            self.assertLess(len(e.get_dbus_message()), 1024)

    def test_release_and_sigterm_during_capture(self):
        path, s, outs = self.session_with(['photo'], 'YUYV', 1920, 1080)
        photo = self.iface(outs['photo'], 'PhotoOutput')
        time.sleep(0.3)
        replies = []
        for _ in range(3):
            photo.Capture(settings(), reply_handler=lambda i: replies.append(str(i)),
                          error_handler=lambda e: replies.append(e))
        s.Release()  # while the bursts are being written
        camerad_test.wait_until(lambda: len(replies) == 3, 30)
        # Each call was answered: stored photos keep their ids.
        ids = [r for r in replies if isinstance(r, str)]
        for i in ids:
            self.assertRegex(i, r'^[0-9a-f]{32}$')
        path, s, outs = self.session_with(['photo'], 'NV12', 1920, 1080)
        photo = self.iface(outs['photo'], 'PhotoOutput')
        time.sleep(0.3)
        photo.Capture(settings(), reply_handler=lambda i: None, error_handler=lambda e: None)
        self.stop_daemon()  # exit 0, clean log, with a capture in flight

    def test_other_callers_cannot_capture(self):
        path, s, outs = self.session_with(['photo'])
        r = self.call_as(NOBODY, outs['photo'], 'PhotoOutput', 'Capture', 'a{sv}', {})
        self.assertCallError(r, ACCESS_DENIED)


class VideoTest(OutputCase):
    def record(self, vo, f, seconds=1.5, **opts):
        video_id = str(vo.StartRecording(dbus.types.UnixFd(f.fileno()), settings(**opts)))
        time.sleep(seconds)
        vo.StopRecording()
        return video_id

    def test_recording_plays(self):
        path, s, outs = self.session_with(['video', 'preview'], 'YUYV', 640, 480)
        vo = self.iface(outs['video'], 'VideoOutput')
        with tempfile.NamedTemporaryFile(suffix='.avi', dir=self.workdir) as f:
            video_id = self.record(vo, f, deferred=dbus.Boolean(False), quality=dbus.UInt32(80))
            self.assertRegex(video_id, r'^[0-9a-f]{32}$')
            codec, w, h, frames = camerad_test.ffprobe_frames(f.name)
        self.assertEqual((codec, w, h), ('mjpeg', 640, 480))
        # ~45 at 30 fps in 1.5 s; under valgrind the encoder is many times slower.
        self.assertGreaterEqual(frames, 1 if self.daemon.valgrind else 20)
        self.assertLessEqual(frames, 60)

    def test_deferred_recording_is_pending(self):
        path, s, outs = self.session_with(['video'], 'NV12')
        vo = self.iface(outs['video'], 'VideoOutput')
        with tempfile.NamedTemporaryFile(suffix='.avi', dir=self.workdir) as f:
            video_id = self.record(vo, f, seconds=0.5)
            codec, w, h, frames = camerad_test.ffprobe_frames(f.name)
        self.assertEqual((codec, w, h), ('mjpeg', 320, 240))
        vps = self.iface(self.manager.GetVideoProcessSession(), 'VideoProcessSession')
        self.assertIn(video_id, [str(v) for v in vps.GetPendingVideos()])

    def test_stop_session_finishes_file(self):
        path, s, outs = self.session_with(['video'])
        vo = self.iface(outs['video'], 'VideoOutput')
        with tempfile.NamedTemporaryFile(suffix='.avi', dir=self.workdir) as f:
            vo.StartRecording(dbus.types.UnixFd(f.fileno()), settings(deferred=dbus.Boolean(False)))
            time.sleep(0.5)
            s.Stop()
            self.assertDBusError('OperationNotAllowed', '7400102: ', vo.StopRecording)
            codec, w, h, frames = camerad_test.ffprobe_frames(f.name)
        self.assertEqual(codec, 'mjpeg')
        self.assertGreater(frames, 0)

    def test_bad_descriptors(self):
        path, s, outs = self.session_with(['video'])
        vo = self.iface(outs['video'], 'VideoOutput')
        opts = settings(deferred=dbus.Boolean(False))
        r, w = os.pipe()
        a, b = socket.socketpair()
        ro = open(os.path.join(self.workdir, 'ro.avi'), 'w+b')
        ro.close()
        ro_fd = os.open(ro.name, os.O_RDONLY)
        dir_fd = os.open(self.workdir, os.O_RDONLY | os.O_DIRECTORY)
        app_fd = os.open(ro.name, os.O_WRONLY | os.O_APPEND)
        try:
            for fd, needle in ((w, 'pipe'), (a.fileno(), 'socket'), (ro_fd, 'read-only'),
                               (dir_fd, 'directory'), (app_fd, 'append')):
                e = self.assertDBusError('InvalidArgument', '7400101: ', vo.StartRecording,
                                         dbus.types.UnixFd(fd), opts)
                self.assertIn(needle, e.get_dbus_message())
        finally:
            for fd in (r, w, ro_fd, dir_fd, app_fd):
                os.close(fd)
            a.close()
            b.close()

    def test_bad_options_and_states(self):
        path, s, outs = self.session_with(['video'], start=False)
        vo = self.iface(outs['video'], 'VideoOutput')
        with tempfile.NamedTemporaryFile(suffix='.avi', dir=self.workdir) as f:
            fd = dbus.types.UnixFd(f.fileno())
            e = self.assertDBusError('SessionNotRunning', '7400104: ', vo.StartRecording, fd, settings())
            self.assertIn("'committed'", e.get_dbus_message())
            self.assertDBusError('OperationNotAllowed', '7400102: ', vo.StopRecording)
            s.Start()
            for d, needle in ((settings(quality=dbus.UInt32(0)), "'quality'"),
                              (settings(quality=dbus.UInt32(101)), "'quality'"),
                              (settings(quality='high'), "'quality'"),
                              (settings(deferred=dbus.UInt32(1)), "'deferred'"),
                              (settings(container='mp4'), "'container'")):
                e = self.assertDBusError('InvalidArgument', '7400101: ', vo.StartRecording, fd, d)
                self.assertIn(needle, e.get_dbus_message())
            vo.StartRecording(fd, settings(deferred=dbus.Boolean(False)))
            self.assertDBusError('OperationNotAllowed', '7400102: ', vo.StartRecording, fd,
                                 settings(deferred=dbus.Boolean(False)))
            vo.StopRecording()

    def test_other_callers_cannot_record(self):
        path, s, outs = self.session_with(['video'])
        target = os.path.join(self.workdir, 'nobody.avi')
        open(target, 'w').close()
        os.chmod(target, 0o666)
        r = self.call_as(NOBODY, outs['video'], 'VideoOutput', 'StartRecording', 'ha{sv}',
                         camerad_test.FdArg(target, os.O_RDWR), {})
        self.assertCallError(r, ACCESS_DENIED)

    def test_release_while_recording(self):
        path, s, outs = self.session_with(['video'])
        vo = self.iface(outs['video'], 'VideoOutput')
        with tempfile.NamedTemporaryFile(suffix='.avi', dir=self.workdir) as f:
            vo.StartRecording(dbus.types.UnixFd(f.fileno()), settings(deferred=dbus.Boolean(False)))
            time.sleep(0.4)
            s.Release()
            codec, w, h, frames = camerad_test.ffprobe_frames(f.name)
        self.assertEqual(codec, 'mjpeg')
        self.assertGreater(frames, 0)


if __name__ == '__main__':
    camerad_test.main()
