# SPDX-License-Identifier: MIT
"""Crash safety: kill -9 at many random points while images are being processed, then
every image still ends `done` with a final JPEG that djpeg decodes; kill -9 in the middle
of a video loses no pending entry and the video resumes to a complete file."""

import os
import random
import time

import dbus

import camerad_test
from camerad_test import djpeg_decodes, ffprobe_frames, make_mjpeg_avi, read_fd

IMAGE_IFACE = 'ImageProcessSession'
VIDEO_IFACE = 'VideoProcessSession'
KILL_POINTS = int(os.environ.get('CAMERAD_CRASH_POINTS', '20'))
N_IMAGES = 6


class CrashTest(camerad_test.CameradTestCase):

    def image_session(self):
        return self.iface(str(self.manager.GetImageProcessSession()), IMAGE_IFACE)

    def test_kill9_while_processing_images(self):
        seed = int(os.environ.get('CAMERAD_CRASH_SEED', str(int(time.time()))))
        rnd = random.Random(seed)
        print(f'seed {seed}, {KILL_POINTS} kill points')

        ids = self.capture_images(N_IMAGES, burst=8, width=640, height=480)
        ips = self.image_session()
        ips.SetExecutionMode('high-performance')

        kills_while_running = 0
        kills = 0
        # Kill until KILL_POINTS kills have landed while a job was running (a kill just
        # after a job ended still counts as a kill, not as a point).
        while kills_while_running < KILL_POINTS and kills < 8 * KILL_POINTS:
            point = kills
            kills += 1
            states = [ips.GetImageInfo(i)['state'] for i in ids]
            if states.count('done') > len(ids) - 2:
                # Keep work queued so that every kill can land in the middle of a job.
                ids += self.capture_images(3, burst=8, width=640, height=480)
                ips = self.image_session()
                ips.SetExecutionMode('high-performance')
            running = lambda: int(self.get_property(str(ips.object_path), IMAGE_IFACE,
                                                    'RunningCount'))
            camerad_test.wait_until(lambda: running() > 0, 30, interval=0.005)
            # Somewhere between "just started" and "well into a job" (a 640x480 burst of 8
            # takes about 0.1 s on an idle machine).
            time.sleep(rnd.uniform(0.0, 0.12))
            kills_while_running += running() > 0
            self.kill9()
            # Half-written data is what the restart must cope with.
            self.restart_daemon()
            ips = self.image_session()
            states = [ips.GetImageInfo(i)['state'] for i in ids]
            self.assertNotIn('error', states, f'after kill {point}: {states}')
            ips.SetExecutionMode('high-performance')

        print(f'{kills_while_running} of {kills} kills hit running work')
        self.assertGreaterEqual(kills_while_running, KILL_POINTS,
                                'kills must land while images are being processed')

        camerad_test.wait_until(
            lambda: all(ips.GetImageInfo(i)['state'] == 'done' for i in ids), 300,
            interval=0.2)
        for image_id in ids:
            fd, kind = ips.OpenImage(image_id)
            self.assertEqual(kind, 'final', image_id)
            ok, w, h = djpeg_decodes(read_fd(fd))
            self.assertTrue(ok, f'{image_id}: final JPEG does not decode')
            self.assertEqual((w, h), (640, 480))
        self.assertEqual(list(ips.GetPendingImages()), [])
        # No half-written folders or temporary files are left behind.
        store = os.path.join(self.state_dir, 'images', '0')
        self.assertEqual(sorted(os.listdir(store)), sorted(ids))

    def test_kill9_mid_video_keeps_pending(self):
        avi = make_mjpeg_avi(os.path.join(self.workdir, 'crash-in.avi'), 300, size='640x480',
                             rate=30)
        out = os.path.join(self.workdir, 'crash-out.avi')
        vps = self.iface(str(self.manager.GetVideoProcessSession()), VIDEO_IFACE)
        rec = self.signals(VIDEO_IFACE)

        def setup(v):
            fd_in = os.open(avi, os.O_RDONLY)
            fd_out = os.open(out, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                v.Prepare('crash', dbus.types.UnixFd(fd_in))
                v.CreateStreams(dbus.Array([dbus.Dictionary(
                    {'id': dbus.Int32(0), 'fd': dbus.types.UnixFd(fd_out)}, signature='sv')],
                    signature='a{sv}'))
                v.CommitStreams(dbus.ByteArray(b'{"denoise":0.5}'))
            finally:
                os.close(fd_in)
                os.close(fd_out)

        setup(vps)
        fd = os.open(avi, os.O_RDONLY)
        vps.Prepare('other', dbus.types.UnixFd(fd))
        os.close(fd)
        # 'other' became current; 'crash' stays committed and can run.
        vps.ProcessVideo('crash', dbus.UInt64(0))
        rec.wait_for('Progress', lambda a: str(a[0]) == 'crash', 60)
        self.kill9()
        self.restart_daemon()
        vps = self.iface(str(self.manager.GetVideoProcessSession()), VIDEO_IFACE)
        self.assertEqual(sorted(map(str, vps.GetPendingVideos())), ['crash', 'other'])
        info = vps.GetVideoInfo('crash')
        self.assertEqual(info['state'], 'pending')
        # Resume after a crash: prepare again, then process from the resume point.
        setup(vps)
        vps.ProcessVideo('crash', dbus.UInt64(int(info['resume_timestamp'])))
        camerad_test.wait_until(lambda: vps.GetVideoInfo('crash')['state'] == 'done', 120,
                                interval=0.1)
        self.assertEqual(ffprobe_frames(out), ('mjpeg', 640, 480, 300))
        self.assertEqual([str(i) for i in vps.GetPendingVideos()], ['other'])


if __name__ == '__main__':
    camerad_test.main()
