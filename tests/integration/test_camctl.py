# SPDX-License-Identifier: MIT
"""camctl against camerad on a private bus: every subcommand, --json parsed back, the
progress bar on a pseudo-terminal, plain progress lines otherwise, and the failures a user
meets (no daemon, unknown camera, bad size, polkit saying no, usage errors)."""

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import camerad_test
from camerad_test import NOBODY, ROOT_PATH, djpeg_decodes, ffprobe_frames, make_mjpeg_avi

CAMCTL = camerad_test.CAMCTL_BIN

EXIT_FAILED, EXIT_USAGE, EXIT_NO_DAEMON, EXIT_TIMEOUT, EXIT_DENIED = 1, 2, 3, 4, 5

# Small pictures keep the bursts and the processing quick on a 2-core machine.
SIZE = ['--size', '320x240']


def y4m_frames(data):
    """(header fields, frame count) of a YUV4MPEG2 stream; asserts only whole frames."""
    header, _, rest = data.partition(b'\n')
    assert header.startswith(b'YUV4MPEG2 '), header[:40]
    tags = {t[:1]: t[1:] for t in header.split()[1:]}
    w, h = int(tags[b'W']), int(tags[b'H'])
    chroma = tags.get(b'C', b'420')
    cw, ch = ((w + 1) // 2, h) if chroma.startswith(b'422') else ((w + 1) // 2, (h + 1) // 2)
    size = w * h + 2 * cw * ch
    n = 0
    while rest:
        line, _, rest = rest.partition(b'\n')
        assert line.startswith(b'FRAME'), line[:20]
        assert len(rest) >= size, f'partial frame: {len(rest)} of {size} bytes'
        rest = rest[size:]
        n += 1
    return (w, h, chroma), n


class CamctlTest(camerad_test.CameradTestCase):

    @classmethod
    def setUpClass(cls):
        if not CAMCTL or not os.access(CAMCTL, os.X_OK):
            raise unittest.SkipTest(f'camctl not built (CAMCTL_BIN={CAMCTL!r})')
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='camctl-', dir=self.workdir)
        os.chmod(self.tmp, 0o777)  # uid 65534 writes here too
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def camctl(self, *args, uid=None, timeout=120, address=None, **kwargs):
        argv = [CAMCTL, f'--address={address or self.address}'] + list(args)
        kwargs.setdefault('capture_output', True)
        if uid is not None:
            return camerad_test.run_as(uid, argv, timeout=timeout, **kwargs)
        return subprocess.run(argv, timeout=timeout, cwd=self.tmp, **kwargs)

    def ok(self, *args, **kwargs):
        r = self.camctl(*args, **kwargs)
        self.assertEqual(r.returncode, 0, f'camctl {" ".join(args)}: {r.stderr!r}')
        return r

    def json(self, *args, **kwargs):
        return json.loads(self.ok('--json', *args, **kwargs).stdout)

    def fails(self, code, *args, **kwargs):
        r = self.camctl(*args, **kwargs)
        self.assertEqual(r.returncode, code,
                         f'camctl {" ".join(args)}: stdout {r.stdout!r} stderr {r.stderr!r}')
        return r.stderr.decode()

    def path(self, name):
        return os.path.join(self.tmp, name)

    # cameras ------------------------------------------------------------------------------

    def test_list(self):
        cams = self.json('list')
        self.assertEqual(len(cams), 1)
        self.assertEqual(cams[0]['Id'], 'virtual:0')
        self.assertTrue(cams[0]['path'].startswith(ROOT_PATH + '/camera/'))
        self.assertEqual(cams[0]['index'], int(cams[0]['path'].rsplit('/', 1)[1]))
        self.assertIs(cams[0]['InUse'], False)
        out = self.ok('list').stdout.decode()
        self.assertRegex(out, r'INDEX\s+ID\s+NAME')
        self.assertIn('virtual:0', out)

    def test_bus_selection(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address,
                   DBUS_SESSION_BUS_ADDRESS=self.address)
        for flags in ([], ['--system'], ['--session']):
            r = subprocess.run([CAMCTL] + flags + ['--json', 'list'], capture_output=True,
                               env=env, timeout=30)
            self.assertEqual(r.returncode, 0, (flags, r.stderr))
            self.assertEqual(json.loads(r.stdout)[0]['Id'], 'virtual:0')
        env['DBUS_SESSION_BUS_ADDRESS'] = f'unix:path={self.tmp}/no-such-bus'
        r = subprocess.run([CAMCTL, '--session', 'list'], capture_output=True, env=env, timeout=30)
        self.assertEqual(r.returncode, EXIT_NO_DAEMON)
        self.assertIn(b'cannot connect to the session bus', r.stderr)

    def test_info_by_index_id_and_path(self):
        cam = self.json('list')[0]
        by_index = self.json('info', str(cam['index']))
        self.assertEqual(self.json('info', 'virtual:0'), by_index)
        self.assertEqual(self.json('info', cam['path']), by_index)
        formats = by_index['Formats']
        self.assertIn({'format': 'YUYV', 'width': 320, 'height': 240},
                      [{k: f[k] for k in ('format', 'width', 'height')} for f in formats])
        self.assertTrue(all(f['fps'] > 0 for f in formats))
        table = self.ok('info', 'virtual:0').stdout.decode()
        self.assertRegex(table, r'FORMAT\s+WIDTH\s+HEIGHT\s+MAX-FPS')
        self.assertRegex(table, r'YUYV\s+320\s+240\s')

    def test_unknown_camera(self):
        err = self.fails(EXIT_FAILED, 'info', 'nope:7')
        self.assertIn("no camera 'nope:7'", err)
        err = self.fails(EXIT_FAILED, 'photo', '--camera', '99', '-o', self.path('x.jpg'))
        self.assertIn("no camera '99'", err)
        self.assertFalse(os.path.exists(self.path('x.jpg')))

    # photos and the image process session ------------------------------------------------

    def test_photo_wait_writes_the_final(self):
        out = self.path('p.jpg')
        doc = self.json('photo', *SIZE, '--burst', '3', '--quality', '80', '--wait', '-o', out)
        self.assertRegex(doc['id'], r'^[0-9a-f]{32}$')
        self.assertEqual(doc['kind'], 'final')
        self.assertEqual((doc['width'], doc['height'], doc['format']), (320, 240, 'YUYV'))
        self.assertEqual(doc['final']['state'], 'done')
        self.assertEqual(doc['final']['frames'], 3)
        with open(out, 'rb') as f:
            data = f.read()
        self.assertEqual(len(data), doc['size'])
        self.assertEqual(djpeg_decodes(data), (True, 320, 240))
        self.assertNotIn(doc['id'], [p['id'] for p in self.json('pending')])
        # The camera was released at once.
        self.assertIs(self.json('list')[0]['InUse'], False)

    def test_photo_unwritable_output_takes_no_photo(self):
        err = self.fails(6, 'photo', *SIZE, '-o', self.path('no/such/dir/p.jpg'))
        self.assertIn('no/such/dir', err)
        self.assertEqual(self.json('pending'), [])

    def test_photo_plain_output_and_progress_lines(self):
        r = self.ok('photo', *SIZE, '--burst', '2', '--wait', '-o', self.path('p.jpg'))
        out, err = r.stdout.decode(), r.stderr.decode()
        self.assertRegex(out, r'Captured [0-9a-f]{32} \(320x240 YUYV\)')
        self.assertRegex(out, r'Processed [0-9a-f]{32}: final image written to ')
        # Not a terminal: plain lines, never a carriage return.
        self.assertIn('processing: 1/1 images', err)
        self.assertNotIn('\r', err)

    def test_pending_fetch_remove_process(self):
        self.ok('interrupt')  # background work waits, so the images stay pending
        a = self.json('photo', *SIZE, '--burst', '2', '-o', self.path('a.jpg'))
        b = self.json('photo', *SIZE, '--burst', '2', '-o', self.path('b.jpg'))
        self.assertEqual(a['kind'], 'proxy')
        with open(self.path('a.jpg'), 'rb') as f:
            self.assertTrue(djpeg_decodes(f.read())[0])

        pending = self.json('pending')
        self.assertEqual([p['id'] for p in pending], [a['id'], b['id']])
        self.assertEqual(pending[0]['state'], 'pending')
        self.assertEqual((pending[0]['width'], pending[0]['height']), (320, 240))
        self.assertIn(a['id'], self.ok('pending').stdout.decode())

        f = self.json('fetch', a['id'], '-o', self.path('fa.jpg'))
        self.assertEqual(f['kind'], 'proxy')
        self.assertEqual(os.path.getsize(self.path('fa.jpg')), f['size'])

        self.ok('remove', b['id'])
        self.assertEqual([p['id'] for p in self.json('pending')], [a['id']])
        err = self.fails(EXIT_FAILED, 'remove', b['id'])
        self.assertIn('org.camerad.Camera1.Error.InvalidId', err)
        err = self.fails(EXIT_FAILED, 'fetch', b['id'], '-o', self.path('fb.jpg'))
        self.assertIn('org.camerad.Camera1.Error.InvalidId', err)
        self.assertFalse(os.path.exists(self.path('fb.jpg')))

        done = self.json('process', a['id'], '--wait')
        self.assertEqual(len(done), 1)
        self.assertEqual((done[0]['id'], done[0]['state']), (a['id'], 'done'))
        self.assertEqual(self.json('fetch', a['id'], '-o', self.path('fa.jpg'))['kind'], 'final')
        self.assertEqual(self.json('pending'), [])
        self.assertEqual(self.json('process', '--all', '--wait'), [])
        self.ok('reset')

    def test_process_all_wait_progress_on_a_terminal(self):
        self.ok('interrupt')
        for i in range(2):
            self.ok('photo', *SIZE, '--burst', '2', '-o', self.path(f'{i}.jpg'))
        status, text = self.run_on_pty(['process', '--all', '--wait'])
        self.assertEqual(status, 0, text)
        # A bar redrawn in place, ending complete, then a newline.
        self.assertIn('\r', text)
        self.assertRegex(text, r'processing \[#+\] 100% 2/2 images')
        self.assertEqual(self.json('pending'), [])

    def run_on_pty(self, args, timeout=120):
        """camctl with stderr on a pseudo-terminal; returns (exit status, terminal text)."""
        master, slave = pty.openpty()
        proc = subprocess.Popen([CAMCTL, f'--address={self.address}'] + args, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=slave, cwd=self.tmp)
        os.close(slave)
        chunks, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        os.close(master)
        try:
            status = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail('camctl did not finish on the pty')
        return status, b''.join(chunks).decode(errors='replace')

    def test_mode_and_status(self):
        self.assertEqual(self.json('mode')['mode'], 'balanced')
        self.assertEqual(self.ok('mode', 'low-power').stdout.decode().strip(), 'low-power')
        status = self.json('status')
        self.assertEqual(status['ExecutionMode'], 'low-power')
        self.assertEqual(set(status['Concurrency']),
                         {'high-performance', 'balanced', 'low-power'})
        self.assertTrue(all(n >= 1 for n in status['Concurrency'].values()))
        self.assertEqual((status['PendingCount'], status['RunningCount'], status['PendingVideos']),
                         (0, 0, 0))
        self.assertRegex(self.ok('status').stdout.decode(), r'Execution mode: low-power')
        err = self.fails(EXIT_FAILED, 'mode', 'turbo')
        self.assertIn('org.camerad.Camera1.Error.InvalidArgument', err)
        self.assertEqual(self.json('mode')['mode'], 'low-power')

    # failures -----------------------------------------------------------------------------

    def test_bad_size(self):
        err = self.fails(EXIT_FAILED, 'photo', '--size', '123x45', '-o', self.path('x.jpg'))
        self.assertIn('org.camerad.Camera1.Error.InvalidArgument', err)
        self.assertIn('7400101', err)
        self.assertNotRegex(err, r'\b[Ee]rrno\b|-\d+\b')
        self.assertIn('--size', self.fails(EXIT_USAGE, 'photo', '--size', 'big'))
        self.assertIn('--size', self.fails(EXIT_USAGE, 'photo', '--size', '0x240'))
        # Nothing was left running.
        self.assertIs(self.json('list')[0]['InUse'], False)

    def test_no_daemon(self):
        err = self.fails(EXIT_NO_DAEMON, 'list', address=f'unix:path={self.tmp}/no-such-bus')
        self.assertIn('cannot connect', err)
        self.stop_daemon()
        err = self.fails(EXIT_NO_DAEMON, 'list')
        self.assertIn('camerad is not running', err)
        self.assertIn('org.freedesktop.DBus.Error.ServiceUnknown', err)

    def test_denied_by_polkit(self):
        out = os.path.join(self.tmp, 'nobody.jpg')
        err = self.fails(EXIT_DENIED, 'photo', *SIZE, '--burst', '1', '-o', out, uid=NOBODY)
        self.assertIn('org.freedesktop.DBus.Error.AccessDenied', err)
        self.assertIn('org.camerad.Camera1.use-camera', err)
        self.assertFalse(os.path.exists(out))
        self.polkit_allow(['org.camerad.Camera1.use-camera'])
        r = self.camctl('--json', 'photo', *SIZE, '--burst', '1', '-o', out, uid=NOBODY)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(os.stat(out).st_uid, NOBODY)
        # The image is nobody's: root's own session does not list it.
        self.assertNotIn(doc['id'], [p['id'] for p in self.json('pending')])

    def test_wait_times_out(self):
        self.ok('interrupt')  # background work paused: the final never comes
        out = self.path('t.jpg')
        t0 = time.monotonic()
        err = self.fails(EXIT_TIMEOUT, 'photo', *SIZE, '--burst', '2', '--wait', '--timeout', '1',
                         '-o', out)
        self.assertLess(time.monotonic() - t0, 20)
        self.assertIn('gave up waiting after 1 s', err)
        with open(out, 'rb') as f:  # the proxy is there all the same
            self.assertTrue(djpeg_decodes(f.read())[0])

    def test_daemon_gone_while_waiting(self):
        self.ok('interrupt')
        out = self.path('g.jpg')
        proc = subprocess.Popen([CAMCTL, f'--address={self.address}', 'photo', *SIZE, '--burst', '2',
                                 '--wait', '-o', out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        camerad_test.wait_until(lambda: os.path.exists(out), 20)
        self.kill9()
        _, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, EXIT_NO_DAEMON, err)
        # Seen by the name watch or by a poll that was under way: either says so.
        self.assertRegex(err.decode(), r'camerad (left the bus|is not running on this bus)')

    def test_usage_errors(self):
        self.fails(EXIT_USAGE)
        self.assertIn("unknown command 'shoot'", self.fails(EXIT_USAGE, 'shoot'))
        self.assertIn("takes no --wait", self.fails(EXIT_USAGE, 'list', '--wait'))
        self.fails(EXIT_USAGE, 'process')
        self.fails(EXIT_USAGE, 'process', 'abc', '--all')
        self.assertIn('needs --seconds', self.fails(EXIT_USAGE, 'record', '-o', 'x.avi'))
        self.assertIn('needs --output', self.fails(EXIT_USAGE, 'record', '-t', '1'))
        self.fails(EXIT_USAGE, 'record', '-t', '-1', '-o', 'x.avi')
        self.fails(EXIT_USAGE, 'video', 'frobnicate')
        self.fails(EXIT_USAGE, 'info')
        self.fails(EXIT_USAGE, 'photo', '--burst', 'many')
        self.assertIn('video process IN.avi', self.ok('--help').stdout.decode())

    # preview ------------------------------------------------------------------------------

    def test_preview_frames_to_stdout(self):
        r = self.ok('preview', *SIZE, '--frames', '4')
        (w, h, chroma), n = y4m_frames(r.stdout)
        self.assertEqual((w, h, n), (320, 240, 4))
        self.assertRegex(r.stderr.decode(), r'preview: 4 frames of 320x240')
        self.assertIs(self.json('list')[0]['InUse'], False)

    def test_preview_to_file_is_read_by_ffprobe(self):
        doc = self.json('preview', *SIZE, '--seconds', '1', '-o', self.path('p.y4m'))
        self.assertGreater(doc['frames'], 0)
        codec, w, h, n = ffprobe_frames(self.path('p.y4m'))
        self.assertEqual((codec, w, h, n), ('rawvideo', 320, 240, doc['frames']))

    def test_preview_stops_when_the_reader_closes_the_pipe(self):
        proc = subprocess.Popen([CAMCTL, f'--address={self.address}', 'preview', *SIZE],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = proc.stdout.read(200000)
        proc.stdout.close()
        _, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err)
        self.assertTrue(head.startswith(b'YUV4MPEG2 '))
        self.assertIn(b'the reader closed the pipe', err)
        camerad_test.wait_until(lambda: not self.json('list')[0]['InUse'], 10)

    def test_preview_sigint_leaves_whole_frames(self):
        out = self.path('s.y4m')
        proc = subprocess.Popen([CAMCTL, f'--address={self.address}', 'preview', *SIZE, '-o', out],
                                stderr=subprocess.PIPE)
        camerad_test.wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 400000, 20)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err)
        with open(out, 'rb') as f:
            _, n = y4m_frames(f.read())
        self.assertGreater(n, 2)
        self.assertIs(self.json('list')[0]['InUse'], False)

    def test_preview_refuses_a_terminal(self):
        status, text = self.run_on_pty_stdout(['preview', '--frames', '1'])
        self.assertEqual(status, EXIT_USAGE, text)
        self.assertIn('standard output is a terminal', text)

    def run_on_pty_stdout(self, args):
        master, slave = pty.openpty()
        r = subprocess.run([CAMCTL, f'--address={self.address}'] + args, stdout=slave,
                           stderr=subprocess.PIPE, timeout=30)
        os.close(slave)
        os.close(master)
        return r.returncode, r.stderr.decode()

    # recording and the video process session ---------------------------------------------

    def test_record_deferred_and_not(self):
        doc = self.json('record', *SIZE, '--seconds', '1.5', '-o', self.path('r.avi'))
        self.assertGreaterEqual(doc['seconds'], 1.4)
        self.assertEqual(doc['size'], os.path.getsize(self.path('r.avi')))
        codec, w, h, n = ffprobe_frames(self.path('r.avi'))
        self.assertEqual((codec, w, h), ('mjpeg', 320, 240))
        self.assertGreater(n, 10)
        self.assertIn(doc['id'], [v['id'] for v in self.json('video', 'pending')])

        plain = self.ok('record', *SIZE, '-t', '0.5', '--no-defer', '-o', self.path('n.avi'))
        self.assertRegex(plain.stdout.decode(), r'Recorded \d\.\d s \(320x240 YUYV\) to ')
        self.assertEqual(len(self.json('video', 'pending')), 1)
        self.assertIs(self.json('list')[0]['InUse'], False)

    def test_video_process_wait(self):
        make_mjpeg_avi(self.path('in.avi'), frames=20, size='320x240', rate=10)
        doc = self.json('video', 'process', self.path('in.avi'), '-o', self.path('out.avi'),
                        '--denoise', '0.5', '--quality', '80', '--wait')
        self.assertEqual((doc['id'], doc['state'], doc['frames']), ('in.avi', 'done', 20))
        self.assertEqual(doc['streams'][0]['type'], 'video')
        self.assertEqual(ffprobe_frames(self.path('out.avi')), ('mjpeg', 320, 240, 20))
        # Non-JSON on a pipe: plain progress lines end with the total.
        r = self.ok('video', 'process', self.path('in.avi'), '-o', self.path('out2.avi'),
                    '--id', 'second', '--wait')
        self.assertIn('processing: 20/20 frames', r.stderr.decode())
        self.assertIn('Processed video second into ', r.stdout.decode())

    def test_video_process_progress_on_a_terminal(self):
        make_mjpeg_avi(self.path('in.avi'), frames=60, size='640x480', rate=15)
        status, text = self.run_on_pty(['video', 'process', self.path('in.avi'), '-o',
                                        self.path('out.avi'), '--wait'])
        self.assertEqual(status, 0, text)
        self.assertIn('\r', text)
        self.assertRegex(text, r'processing \[#+\] 100% 60/60 frames')
        self.assertEqual(ffprobe_frames(self.path('out.avi'))[3], 60)

    def test_video_bad_input(self):
        with open(self.path('bad.avi'), 'wb') as f:
            f.write(b'RIFF....not an avi at all')
        err = self.fails(EXIT_FAILED, 'video', 'process', self.path('bad.avi'), '-o', self.path('o.avi'))
        self.assertIn('org.camerad.Camera1.Error.InvalidArgument', err)
        err = self.fails(6, 'video', 'process', self.path('missing.avi'), '-o', self.path('o.avi'))
        self.assertIn('cannot open', err)

    def test_video_interrupt_and_resume(self):
        make_mjpeg_avi(self.path('long.avi'), frames=300, size='1280x720', rate=30)
        self.ok('video', 'process', self.path('long.avi'), '-o', self.path('out.avi'), '--id', 'long')
        self.ok('video', 'interrupt')
        pending = self.json('video', 'pending')
        self.assertEqual([v['id'] for v in pending], ['long'])
        self.assertLess(pending[0]['frames_done'], 300)
        doc = self.json('video', 'resume', 'long', '--wait')
        self.assertEqual(doc['state'], 'done')
        self.assertEqual(ffprobe_frames(self.path('out.avi'))[3], 300)
        self.assertEqual(self.json('video', 'pending'), [])

    # bash completion ----------------------------------------------------------------------

    def test_bash_completion(self):
        framework = '/usr/share/bash-completion/bash_completion'
        if not os.path.exists(framework):
            self.skipTest('bash-completion not installed')
        script = os.path.join(camerad_test.SOURCE_ROOT, 'src', 'camctl', 'completion', 'camctl')

        def complete(*words):
            code = (f'source {framework}; source {script}; '
                    f'COMP_WORDS=(camctl {" ".join(words)}); COMP_CWORD={len(words)}; '
                    'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; _camctl; '
                    'printf "%s\\n" "${COMPREPLY[@]}"')
            return subprocess.run(['bash', '-c', code], capture_output=True, text=True,
                                  timeout=30).stdout.split()

        self.assertEqual(complete('ph'), ['photo'])
        self.assertEqual(complete('video', 're'), ['resume'])
        self.assertIn('--burst', complete('photo', '--b'))
        self.assertEqual(complete('mode', 'low'), ['low-power'])


if __name__ == '__main__':
    camerad_test.main()
