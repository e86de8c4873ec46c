# SPDX-License-Identifier: MIT
"""VideoProcessSession over the bus: the Prepare → CreateStreams → CommitStreams →
ProcessVideo flow and every member of dbus/org.camerad.Camera1.VideoProcessSession.xml, out-of-order calls, bad fds, bad
modeSetting JSON, unknown ids, Interrupt/resume, Reset, cross-user access and signals."""

import os
import socket

import dbus

import camerad_test
from camerad_test import NOBODY, ROOT_PATH, FdArg, ffprobe_frames, make_mjpeg_avi

IFACE = 'VideoProcessSession'
INPUT_FRAMES = 30
PROCESS_TIMEOUT = 120


class VideoProcessTest(camerad_test.CameradTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.avi = make_mjpeg_avi(os.path.join(cls.workdir, 'input.avi'), INPUT_FRAMES)
        cls.long_avi = make_mjpeg_avi(os.path.join(cls.workdir, 'long.avi'), 300,
                                      size='640x480', rate=30)
        os.chmod(cls.avi, 0o644)

    def setUp(self):
        super().setUp()
        self.path = str(self.manager.GetVideoProcessSession())
        self.vps = self.iface(self.path, IFACE)
        self.fds = []
        self.addCleanup(self.close_fds)

    def close_fds(self):
        for fd in self.fds:
            os.close(fd)

    def open(self, path, flags=os.O_RDONLY):
        fd = os.open(path, flags, 0o644)
        self.fds.append(fd)
        return fd

    def out_path(self, name):
        return os.path.join(self.state_dir, '..', f'{self.id().split(".")[-1]}-{name}')

    def prepare(self, video_id, src=None):
        return self.vps.Prepare(video_id, dbus.types.UnixFd(self.open(src or self.avi)))

    def stream(self, sid, fd, quality=None):
        d = {'id': dbus.Int32(sid), 'fd': dbus.types.UnixFd(fd)}
        if quality is not None:
            d['quality'] = dbus.UInt32(quality)
        return dbus.Dictionary(d, signature='sv')

    def setup_video(self, video_id, src=None, settings=b'{"denoise":0.5,"quality":85}'):
        """Prepare + CreateStreams + CommitStreams; returns the output path."""
        streams = self.prepare(video_id, src)
        video = [s for s in streams if s['type'] == 'video'][0]
        out = self.out_path(f'{video_id}.avi')
        fd = self.open(out, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        self.vps.CreateStreams(dbus.Array([self.stream(video['id'], fd)], signature='a{sv}'))
        self.vps.CommitStreams(dbus.ByteArray(settings))
        return out

    def wait_state(self, video_id, state, timeout=PROCESS_TIMEOUT):
        camerad_test.wait_until(lambda: self.vps.GetVideoInfo(video_id)['state'] == state,
                                timeout, interval=0.05)

    # Prepare ----------------------------------------------------------------------------

    def test_session_path_is_per_uid(self):
        self.assertEqual(self.path, '/org/camerad/Camera1/video_process/0')
        r = self.call_as(NOBODY, ROOT_PATH, 'Manager', 'GetVideoProcessSession')
        self.assertEqual(self.assertCallOk(r), [f'/org/camerad/Camera1/video_process/{NOBODY}'])

    def test_prepare_describes_streams_and_registers_pending(self):
        self.assertEqual(list(self.vps.GetPendingVideos()), [])
        streams = self.prepare('clip-1')
        video = [s for s in streams if s['type'] == 'video']
        self.assertEqual(len(video), 1)
        v = video[0]
        self.assertEqual(set(v), {'id', 'type', 'format', 'width', 'height', 'fps', 'frames',
                                  'duration'})
        self.assertEqual(v['format'], 'MJPG')
        self.assertEqual((v['width'], v['height']), (320, 240))
        self.assertAlmostEqual(float(v['fps']), 15.0, places=3)
        self.assertEqual(v['frames'], INPUT_FRAMES)
        self.assertAlmostEqual(int(v['duration']), INPUT_FRAMES * 1e6 / 15, delta=1e5)
        self.assertEqual([str(i) for i in self.vps.GetPendingVideos()], ['clip-1'])
        info = self.vps.GetVideoInfo('clip-1')
        self.assertEqual(info['state'], 'pending')
        self.assertEqual(info['frames'], INPUT_FRAMES)

    def test_prepare_bad_fds(self):
        r, w = os.pipe()
        self.fds += [r, w]
        e = self.assertDBusError('InvalidArgument', '7400101: ', self.vps.Prepare, 'clip',
                                 dbus.types.UnixFd(r))
        self.assertIn('pipe', e.get_dbus_message())
        not_avi = self.out_path('not.avi')
        with open(not_avi, 'wb') as f:
            f.write(b'RIFF\x10\x00\x00\x00WAVEjunkjunk' + b'\0' * 100)
        self.assertDBusError('InvalidArgument', '7400101: ', self.vps.Prepare, 'clip',
                             dbus.types.UnixFd(self.open(not_avi)))
        self.assertDBusError('InvalidArgument', '7400101: ', self.vps.Prepare, 'clip',
                             dbus.types.UnixFd(self.open('/', os.O_RDONLY | os.O_DIRECTORY)))
        s1, s2 = socket.socketpair()
        self.addCleanup(s1.close)
        self.addCleanup(s2.close)
        self.assertDBusError('InvalidArgument', '7400101: ', self.vps.Prepare, 'clip',
                             dbus.types.UnixFd(s1.fileno()))
        wo = self.open(self.out_path('wo.avi'), os.O_WRONLY | os.O_CREAT)
        self.assertDBusError('InvalidArgument', '7400101: ', self.vps.Prepare, 'clip',
                             dbus.types.UnixFd(wo))
        self.assertEqual(list(self.vps.GetPendingVideos()), [])

    def test_truncated_file_is_refused(self):
        # The same file cut short: its headers list 30 frames, fewer are there.
        with open(self.avi, 'rb') as f:
            data = f.read()
        cut = self.out_path('cut.avi')
        with open(cut, 'wb') as f:
            f.write(data[:len(data) // 2])
        e = self.assertDBusError('InvalidArgument', '7400101: ', self.prepare, 'cut', cut)
        msg = e.get_dbus_message()
        self.assertIn(f'truncated: the header lists {INPUT_FRAMES} frames, the file holds ', msg)
        self.assertIn(f'(ends at byte {len(data) // 2})', msg)
        self.assertEqual(list(self.vps.GetPendingVideos()), [])
        self.assertDBusError('InvalidId', None, self.vps.GetVideoInfo, 'cut')

    def daemon_fds(self):
        return len(self.daemon_fd_targets())

    def daemon_fd_targets(self):
        d = f'/proc/{self.daemon.pid}/fd'
        targets = []
        for name in os.listdir(d):
            try:
                targets.append(os.readlink(os.path.join(d, name)))
            except FileNotFoundError:
                pass
        return sorted(targets)

    def expect_fds(self, n):
        """The daemon holds n fds. It may answer a call before it drops the fd that came
        with it, so a surplus gets a moment to go."""
        try:
            camerad_test.wait_until(lambda: self.daemon_fds() == n, 5)
        except AssertionError:
            self.fail(f'the daemon holds {self.daemon_fds()} fds, not {n}: '
                      f'{self.daemon_fd_targets()}')

    def base_fds(self):
        """Open fds of the daemon with the video machinery warmed up (the first Prepare
        opens what every later one shares) and nothing prepared."""
        self.prepare('warm-up')
        self.vps.RemoveVideo('warm-up')
        # The fd that came with the call is dropped after its reply.
        camerad_test.wait_until(lambda: self.avi not in self.daemon_fd_targets(), 5)
        return self.daemon_fds()

    def test_prepared_videos_do_not_pile_up_fds(self):
        # Only the current uncommitted video holds its input: 200 Prepares, one fd.
        base = self.base_fds()
        for i in range(200):
            self.prepare(f'many{i}')
        self.expect_fds(base + 1)
        self.assertFalse(self.vps.GetVideoInfo('many0')['prepared'])
        self.assertTrue(self.vps.GetVideoInfo('many199')['prepared'])
        self.vps.Reset()
        self.expect_fds(base)

    def test_committed_videos_are_limited_and_done_ones_closed(self):
        base = self.base_fds()
        outs = [self.setup_video(f'v{i}') for i in range(32)]
        self.expect_fds(base + 64)  # input and output each
        e = self.assertDBusError('OperationNotAllowed', '7400102: ', self.prepare, 'v32')
        self.assertIn('32 prepared videos that are not done already hold open files',
                      e.get_dbus_message())
        self.assertDBusError('InvalidId', None, self.vps.GetVideoInfo, 'v32')
        # A done video holds nothing, which makes room for the next one.
        self.vps.ProcessVideo('v0', dbus.UInt64(0))
        self.wait_state('v0', 'done')
        self.assertEqual(ffprobe_frames(outs[0]), ('mjpeg', 320, 240, INPUT_FRAMES))
        self.assertFalse(self.vps.GetVideoInfo('v0')['prepared'])
        self.expect_fds(base + 62)
        self.prepare('v32')
        self.vps.Reset()
        self.expect_fds(base)

    def test_empty_recording_is_not_pending(self):
        # StopRecording right after StartRecording often records nothing; such a recording
        # must not stay pending (it can never be processed), one with frames must.
        path = self.manager.CreateSession('video')
        session = self.iface(path, 'Session')
        session.BeginConfig()
        session.AddInput(dbus.ObjectPath(ROOT_PATH + '/camera/0'))
        output = session.CreateOutput('video', dbus.Dictionary(
            {'format': 'YUYV', 'width': dbus.UInt32(320), 'height': dbus.UInt32(240),
             'fps': dbus.Double(30.0)}, signature='sv'))
        session.AddOutput(output)
        session.CommitConfig()
        session.Start()
        vo = self.iface(output, 'VideoOutput')
        empty = with_frames = 0
        for i in range(20):
            rec = self.out_path(f'rec{i}.avi')
            fd = self.open(rec, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            video_id = str(vo.StartRecording(dbus.types.UnixFd(fd),
                                             dbus.Dictionary({}, signature='sv')))
            vo.StopRecording()
            pending = video_id in [str(v) for v in self.vps.GetPendingVideos()]
            try:
                streams = self.prepare(f'probe{i}', rec)
            except dbus.exceptions.DBusException as e:
                self.assertIn('no frames', e.get_dbus_message())
                self.assertFalse(pending, f'{video_id}: empty but pending')
                self.assertDBusError('InvalidId', None, self.vps.GetVideoInfo, video_id)
                empty += 1
            else:
                self.assertGreater(streams[0]['frames'], 0)
                self.assertTrue(pending, f'{video_id}: has frames but is not pending')
                with_frames += 1
            if empty >= 2:
                break
        print(f'recordings: {empty} empty, {with_frames} with frames')
        self.assertGreater(empty, 0, 'no recording came out empty; the case was not tested')
        session.Stop()

    def test_bad_and_unknown_ids(self):
        for bad in ('', '.', '..', '../x', 'a/b', 'a b', 'é', 'x' * 65, 'x' * 100000):
            e = self.assertDBusError('InvalidId', None, self.prepare, bad)
            self.assertLess(len(e.get_dbus_message()), 400)
        for method, args in ((self.vps.ProcessVideo, ('nope', dbus.UInt64(0))),
                             (self.vps.RemoveVideo, ('nope',)),
                             (self.vps.GetVideoInfo, ('nope',)),
                             (self.vps.GetVideoInfo, ('../../etc',))):
            self.assertDBusError('InvalidId', None, method, *args)
        self.prepare('x' * 64)  # the longest id is fine

    # order ---------------------------------------------------------------------------------

    def test_out_of_order_calls(self):
        out = self.open(self.out_path('o.avi'), os.O_RDWR | os.O_CREAT)
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.CreateStreams,
                             dbus.Array([self.stream(0, out)], signature='a{sv}'))
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.CommitStreams,
                             dbus.ByteArray(b'{}'))
        self.prepare('clip')
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.CommitStreams,
                             dbus.ByteArray(b'{}'))
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.ProcessVideo,
                             'clip', dbus.UInt64(0))
        self.vps.CreateStreams(dbus.Array([self.stream(0, out)], signature='a{sv}'))
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.ProcessVideo,
                             'clip', dbus.UInt64(0))
        self.vps.CommitStreams(dbus.ByteArray(b'{}'))
        self.vps.ProcessVideo('clip', dbus.UInt64(0))
        self.wait_state('clip', 'done')
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.ProcessVideo,
                             'clip', dbus.UInt64(0))

    # CreateStreams / ReleaseStreams / CommitStreams -------------------------------------

    def test_create_streams_bad_input(self):
        self.prepare('clip')
        out = self.open(self.out_path('o.avi'), os.O_RDWR | os.O_CREAT)
        ro = self.open(self.avi)
        r, w = os.pipe()
        self.fds += [r, w]
        bad = [
            ({'id': dbus.Int32(0), 'fd': dbus.types.UnixFd(out), 'speed': dbus.UInt32(1)},
             'speed'),
            ({'id': dbus.UInt32(0), 'fd': dbus.types.UnixFd(out)}, 'id'),
            ({'id': dbus.Int32(0), 'fd': dbus.Int32(out)}, 'fd'),
            ({'id': dbus.Int32(0)}, 'fd'),
            ({'fd': dbus.types.UnixFd(out)}, 'id'),
            ({'id': dbus.Int32(0), 'fd': dbus.types.UnixFd(ro)}, 'read-only'),
            ({'id': dbus.Int32(0), 'fd': dbus.types.UnixFd(w)}, 'pipe'),
            ({'id': dbus.Int32(0), 'fd': dbus.types.UnixFd(out), 'quality': dbus.UInt32(0)},
             'quality'),
            ({'id': dbus.Int32(0), 'fd': dbus.types.UnixFd(out), 'quality': dbus.UInt32(101)},
             'quality'),
            ({'id': dbus.Int32(7), 'fd': dbus.types.UnixFd(out)}, '7'),
        ]
        for d, word in bad:
            e = self.assertDBusError('InvalidArgument', '7400101: ', self.vps.CreateStreams,
                                     dbus.Array([dbus.Dictionary(d, signature='sv')],
                                                signature='a{sv}'))
            self.assertIn(word, e.get_dbus_message())
        self.assertDBusError('InvalidArgument', '7400101: ', self.vps.CreateStreams,
                             dbus.Array([], signature='a{sv}'))

    def test_release_streams(self):
        self.prepare('clip')
        out = self.open(self.out_path('o.avi'), os.O_RDWR | os.O_CREAT)
        self.vps.CreateStreams(dbus.Array([self.stream(0, out)], signature='a{sv}'))
        self.assertDBusError('InvalidArgument', '7400101: ', self.vps.ReleaseStreams,
                             dbus.Array([dbus.Dictionary({'id': dbus.Int32(5)}, signature='sv')],
                                        signature='a{sv}'))
        self.assertDBusError('InvalidArgument', '7400101: ', self.vps.ReleaseStreams,
                             dbus.Array([dbus.Dictionary({'idx': dbus.Int32(0)},
                                                         signature='sv')], signature='a{sv}'))
        self.vps.ReleaseStreams(dbus.Array([dbus.Dictionary({'id': dbus.Int32(0)},
                                                            signature='sv')],
                                           signature='a{sv}'))
        # No output left: commit is out of order again.
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.CommitStreams,
                             dbus.ByteArray(b'{}'))

    def test_commit_streams_bad_json(self):
        self.prepare('clip')
        out = self.open(self.out_path('o.avi'), os.O_RDWR | os.O_CREAT)
        self.vps.CreateStreams(dbus.Array([self.stream(0, out)], signature='a{sv}'))
        for text, word in ((b'not json', None), (b'[1,2]', None), (b'{"foo":1}', 'foo'),
                           (b'{"denoise":"high"}', 'denoise'), (b'{"denoise":7}', 'denoise'),
                           (b'{"quality":0}', 'quality'), (b'\xff\xfe', None),
                           (b'{"denoise":0.1}\0', None)):
            e = self.assertDBusError('InvalidArgument', '7400101: ', self.vps.CommitStreams,
                                     dbus.ByteArray(text))
            if word:
                self.assertIn(word, e.get_dbus_message())
        self.vps.CommitStreams(dbus.ByteArray(b'{"denoise":0.6,"quality":90}'))

    # processing ----------------------------------------------------------------------------

    def test_process_video_to_the_end(self):
        rec = self.signals(IFACE, self.path)
        out = self.setup_video('clip')
        self.vps.ProcessVideo('clip', dbus.UInt64(0))
        args = rec.wait_for('ProcessDone', lambda a: str(a[0]) == 'clip', PROCESS_TIMEOUT)
        info = args[1]
        self.assertEqual(info['frames'], INPUT_FRAMES)
        self.assertEqual((info['width'], info['height']), (320, 240))
        self.assertEqual(info['size'], os.path.getsize(out))
        self.assertEqual(ffprobe_frames(out), ('mjpeg', 320, 240, INPUT_FRAMES))
        self.assertTrue(rec.of('Progress'))
        self.assertEqual(self.vps.GetVideoInfo('clip')['state'], 'done')
        self.assertEqual(list(self.vps.GetPendingVideos()), [])

    def test_interrupt_and_resume(self):
        rec = self.signals(IFACE, self.path)
        out = self.setup_video('long', self.long_avi)
        self.vps.ProcessVideo('long', dbus.UInt64(0))
        rec.wait_for('Progress', lambda a: str(a[0]) == 'long', 60)
        self.vps.Interrupt()
        rec.wait_for('Error', lambda a: tuple(map(str, a)) == ('long', 'abort'), 30)
        info = self.vps.GetVideoInfo('long')
        self.assertEqual(info['state'], 'pending')
        self.assertGreater(info['resume_timestamp'], 0)
        self.assertLess(info['frames_done'], 300)
        # What was written so far plays.
        _, _, _, n = ffprobe_frames(out)
        self.assertEqual(n, info['frames_done'])
        self.vps.ProcessVideo('long', dbus.UInt64(int(info['resume_timestamp'])))
        self.wait_state('long', 'done')
        self.assertEqual(ffprobe_frames(out), ('mjpeg', 640, 480, 300))

    def test_reset_keeps_pending(self):
        self.setup_video('a')
        self.prepare('b')
        self.vps.Reset()
        self.assertEqual(sorted(map(str, self.vps.GetPendingVideos())), ['a', 'b'])
        self.assertDBusError('OperationNotAllowed', '7400102: ', self.vps.ProcessVideo, 'a',
                             dbus.UInt64(0))

    def test_remove_video(self):
        self.prepare('a')
        self.prepare('b')
        self.vps.RemoveVideo('a')
        self.assertEqual([str(i) for i in self.vps.GetPendingVideos()], ['b'])
        self.assertDBusError('InvalidId', None, self.vps.GetVideoInfo, 'a')
        self.assertDBusError('InvalidId', None, self.vps.RemoveVideo, 'a')

    def test_pending_survives_restart(self):
        self.prepare('keep-me')
        self.restart_daemon()
        vps = self.iface(str(self.manager.GetVideoProcessSession()), IFACE)
        self.assertEqual([str(i) for i in vps.GetPendingVideos()], ['keep-me'])

    # access ---------------------------------------------------------------------------------

    def test_other_user_denied_then_allowed_by_polkit(self):
        self.prepare('mine')
        for method, sig, args in (('GetPendingVideos', '', ()),
                                  ('GetVideoInfo', 's', ('mine',)),
                                  ('RemoveVideo', 's', ('mine',)),
                                  ('Interrupt', '', ()), ('Reset', '', ()),
                                  ('Prepare', 'sh', ('x', FdArg(self.avi))),
                                  ('ProcessVideo', 'st', ('mine', dbus.UInt64(0)))):
            r = self.call_as(NOBODY, self.path, IFACE, method, sig, *args)
            self.assertCallError(r, camerad_test.ACCESS_DENIED)
        self.assertEqual([str(i) for i in self.vps.GetPendingVideos()], ['mine'])
        self.polkit_allow(['org.camerad.Camera1.manage'])
        r = self.call_as(NOBODY, self.path, IFACE, 'GetPendingVideos')
        self.assertEqual(self.assertCallOk(r), [['mine']])

    def test_own_session_as_nobody(self):
        path = f'/org/camerad/Camera1/video_process/{NOBODY}'
        self.assertCallOk(self.call_as(NOBODY, ROOT_PATH, 'Manager', 'GetVideoProcessSession'))
        r = self.call_as(NOBODY, path, IFACE, 'Prepare', 'sh', 'theirs', FdArg(self.avi))
        streams = self.assertCallOk(r)[0]
        self.assertEqual(streams[0]['frames'], INPUT_FRAMES)
        r = self.call_as(NOBODY, path, IFACE, 'GetPendingVideos')
        self.assertEqual(self.assertCallOk(r), [['theirs']])
        self.assertEqual(list(self.vps.GetPendingVideos()), [])


if __name__ == '__main__':
    camerad_test.main()
