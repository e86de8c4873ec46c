# SPDX-License-Identifier: MIT
"""camerad-pipewire end to end, headless, with clients nobody here wrote.

Runs itself under dbus-run-session (the session bus PipeWire and WirePlumber use), with a
private XDG_RUNTIME_DIR; starts pipewire and wireplumber by hand (no systemd user
session), camerad on the harness's private system-policy bus (camerad_test.py) and the
bridge on that bus. Then: pw-dump shows the camera node with its class, role and fixed
sizes; gst-launch-1.0 pipewiresrc writes PNGs showing the virtual camera's colour bars in
each offered layout; two pipewiresrc and a camctl preview --shared run at once; the camera
is free again when they stop; killing camerad ends the stream and its return brings the
node back. Skips (77) only when pipewire or wireplumber is not installed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP_EXIT = 77
HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = ['pipewire', 'wireplumber', 'pw-dump', 'gst-launch-1.0', 'dbus-run-session']

if __name__ == '__main__' and os.environ.get('CAMERAD_PW_TEST_INNER') != '1':
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f'SKIP: {", ".join(missing)} missing (pipewire-bin, wireplumber, '
              'gstreamer1.0-tools, dbus)', file=sys.stderr)
        sys.exit(SKIP_EXIT)
    env = dict(os.environ, CAMERAD_PW_TEST_INNER='1')
    os.execvpe('dbus-run-session', ['dbus-run-session', '--', sys.executable,
                                    os.path.abspath(__file__)] + sys.argv[1:], env)

sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'integration'))
sys.path.insert(0, HERE)
import camerad_test  # noqa: E402
from camerad_test import CAMCTL_BIN, ROOT_PATH, ffprobe_frames, wait_until  # noqa: E402,F401
import png_bars  # noqa: E402

BRIDGE_BIN = os.environ.get('CAMERAD_PIPEWIRE_BIN', '')
NODE = 'camerad.virtual_0'
CAMERA = ROOT_PATH + '/camera/0'


def wait_for(predicate, timeout, what):
    """wait_until with a message: `what` (a string or a callable giving one, e.g. a log)
    says what did not happen."""
    try:
        return wait_until(predicate, timeout)
    except AssertionError:
        raise AssertionError(f'within {timeout} s: ' + (what() if callable(what) else what))


def pw_dump():
    r = subprocess.run(['pw-dump'], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return []
    # pw-dump prints a second array when objects change while it dumps (nodes going away as
    # camerad dies): take every array, later entries for an id replacing earlier ones.
    objects, text, pos, dec = {}, r.stdout, 0, json.JSONDecoder()
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        chunk, pos = dec.raw_decode(text, pos)
        for o in chunk:
            if o.get('info') is None and o.get('id') in objects:
                del objects[o['id']]  # an update saying the object is gone
            else:
                objects[o.get('id')] = o
    return list(objects.values())


def find_node(name=NODE):
    for o in pw_dump():
        if o.get('type') == 'PipeWire:Interface:Node' and \
                o.get('info', {}).get('props', {}).get('node.name') == name:
            return o
    return None


def consumer_nodes():
    """Video input streams (pipewiresrc's nodes) in pw-dump."""
    return [o['id'] for o in pw_dump() if o.get('type') == 'PipeWire:Interface:Node' and
            o.get('info', {}).get('props', {}).get('media.class') == 'Stream/Input/Video']


class PipeWireBridgeTest(camerad_test.CameradTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pwdir = tempfile.mkdtemp(prefix='pw-', dir=cls.workdir)
        runtime = os.path.join(cls.pwdir, 'runtime')
        os.mkdir(runtime, 0o700)
        os.environ['XDG_RUNTIME_DIR'] = runtime
        for d in ('XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_DATA_HOME'):
            os.environ[d] = os.path.join(cls.pwdir, d.lower())
            os.mkdir(os.environ[d])
        os.environ.pop('PIPEWIRE_REMOTE', None)
        cls.pw_logs = []
        cls.pw_procs = []
        for argv in (['pipewire'], ['wireplumber']):
            log = open(os.path.join(cls.pwdir, argv[0] + '.log'), 'w')
            cls.pw_logs.append(log)
            cls.pw_procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
            if argv[0] == 'pipewire':
                wait_for(lambda: os.path.exists(os.path.join(runtime, 'pipewire-0')), 20,
                           'pipewire did not create its socket')
        # WirePlumber is up when it shows as a client.
        wait_for(lambda: any(o.get('info', {}).get('props', {}).get('application.name')
                               == 'WirePlumber' for o in pw_dump()), 30,
                   'wireplumber did not connect to pipewire')

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.pw_procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in cls.pw_logs:
            log.close()
        super().tearDownClass()

    def setUp(self):
        if not BRIDGE_BIN or not os.access(BRIDGE_BIN, os.X_OK):
            self.fail(f'camerad-pipewire not built (CAMERAD_PIPEWIRE_BIN={BRIDGE_BIN!r})')
        super().setUp()
        self.polkit_allow(['org.camerad.Camera1.use-camera'])
        self.out = tempfile.mkdtemp(prefix='out-', dir=self.pwdir)
        self.bridge_log_path = os.path.join(self.out, 'bridge.log')
        self.bridge = self.start_bridge()
        self.wait_node()

    def tearDown(self):
        try:
            if self.bridge.poll() is None:
                self.bridge.send_signal(signal.SIGTERM)
                rc = self.bridge.wait(20)
                self.assertEqual(rc, 0, 'camerad-pipewire exit code after SIGTERM\n' +
                                 self.bridge_log())
            else:
                self.fail(f'camerad-pipewire died ({self.bridge.returncode}):\n' +
                          self.bridge_log())
        finally:
            super().tearDown()

    def start_bridge(self):
        log = open(self.bridge_log_path, 'a')
        p = subprocess.Popen([BRIDGE_BIN, f'--address={self.address}', '--verbose'],
                             stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return p

    def bridge_log(self):
        with open(self.bridge_log_path) as f:
            return f.read()

    def wait_node(self, timeout=20):
        wait_for(lambda: find_node() is not None, timeout,
                   lambda: f'no node {NODE} in pw-dump\n{self.bridge_log()}')
        return find_node()

    def in_use(self):
        return bool(self.get_property(CAMERA, 'Camera', 'InUse'))

    def gst(self, tag, caps='video/x-raw,width=640,height=480', frames=30, src_props=()):
        """Starts gst-launch-1.0 pipewiresrc → PNG files <out>/<tag>-NN.png."""
        argv = ['gst-launch-1.0', '-q', 'pipewiresrc', f'target-object={NODE}', *src_props]
        if frames:
            argv.append(f'num-buffers={frames}')
        argv += ['!', caps, '!', 'videoconvert', '!', 'pngenc', '!', 'multifilesink',
                 f'location={self.out}/{tag}-%02d.png']
        log = open(os.path.join(self.out, tag + '.log'), 'w')
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return p

    def gst_log(self, tag):
        with open(os.path.join(self.out, tag + '.log')) as f:
            return f.read()

    def pngs(self, tag):
        return sorted(f for f in os.listdir(self.out) if f.startswith(tag + '-'))

    def assert_gst_frames(self, p, tag, frames=30, timeout=60):
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail(f'gst-launch {tag} did not finish in {timeout} s\n{self.gst_log(tag)}\n'
                      + self.bridge_log())
        self.assertEqual(rc, 0, f'gst-launch {tag}:\n{self.gst_log(tag)}\n{self.bridge_log()}')
        files = self.pngs(tag)
        self.assertEqual(len(files), frames, files)
        # Every frame is a PNG; the first, a middle and the last one show the bars.
        for f in files:
            with open(os.path.join(self.out, f), 'rb') as fh:
                self.assertEqual(fh.read(8), b'\x89PNG\r\n\x1a\n', f)
        for f in (files[0], files[len(files) // 2], files[-1]):
            self.assertIsNone(png_bars.check_bars(os.path.join(self.out, f)), f)

    # tests -------------------------------------------------------------------------------

    def test_node_is_a_camera_with_fixed_sizes(self):
        node = self.wait_node()
        props = node['info']['props']
        self.assertEqual(props['media.class'], 'Video/Source')
        self.assertEqual(props['media.role'], 'Camera')
        self.assertEqual(props['node.description'],
                         str(self.get_property(CAMERA, 'Camera', 'Name')))
        formats = node['info'].get('params', {}).get('EnumFormat', [])
        self.assertTrue(formats, json.dumps(node, indent=1))
        seen = set()
        for f in formats:
            self.assertEqual(f['mediaSubtype'], 'raw', f)
            # A plain rectangle, never a choice (range or enum) that OBS would skip.
            self.assertEqual(set(f['size']), {'width', 'height'}, f)
            seen.add((f['format'], f['size']['width'], f['size']['height']))
        # The virtual camera's YUYV and NV12 at 640x480, in PipeWire's names.
        for fmt in ('YUY2', 'NV12', 'I420'):
            self.assertIn((fmt, 640, 480), seen)
        self.assertIn(('YUY2', 1920, 1080), seen)
        # An idle node holds no camera.
        self.assertFalse(self.in_use())

    def test_frames_show_the_bars_in_every_layout(self):
        for fmt in ('YUY2', 'I420', 'NV12'):
            with self.subTest(format=fmt):
                p = self.gst(fmt, caps=f'video/x-raw,format={fmt},width=640,height=480')
                self.assert_gst_frames(p, fmt)
                wait_for(lambda: not self.in_use(), 10,
                           lambda: 'InUse still true after the consumer stopped\n' +
                           self.bridge_log())
        # The buffers carried timestamps and sequence numbers (the header meta).
        self.assertIn('streaming YUY2 640x480 from camerad', self.bridge_log())

    def test_two_consumers_and_camctl_preview_at_once(self):
        a = self.gst('a', frames=90)
        wait_for(lambda: self.pngs('a'), 20, lambda: self.gst_log('a'))
        b = self.gst('b', frames=30)
        y4m = os.path.join(self.out, 'camctl.y4m')
        camctl = subprocess.run([CAMCTL_BIN, f'--address={self.address}', 'preview',
                                 '--shared', '--frames', '20', '-o', y4m],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(camctl.returncode, 0, camctl.stderr)
        self.assert_gst_frames(b, 'b', 30)
        self.assert_gst_frames(a, 'a', 90)
        codec, w, h, n = ffprobe_frames(y4m)
        self.assertEqual((codec, w, h, n), ('rawvideo', 640, 480, 20))
        wait_for(lambda: not self.in_use(), 10,
                   lambda: 'InUse still true after every consumer stopped\n' +
                   self.bridge_log())

    def enum_formats(self):
        node = find_node()
        return sorted({(f['format'], f['size']['width'], f['size']['height'])
                       for f in (node or {}).get('info', {}).get('params', {}).get('EnumFormat', [])})

    def test_camera_held_by_another_app_offers_its_format(self):
        # camctl first, not shared: it holds the camera and fixes the format (YUYV 640x480).
        y4m = os.path.join(self.out, 'first.y4m')
        camctl = subprocess.Popen([CAMCTL_BIN, f'--address={self.address}', 'preview',
                                   '--size', '640x480', '--format', 'YUYV', '--seconds', '8',
                                   '-o', y4m], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            wait_for(self.in_use, 10, 'camctl did not take the camera')
            # The idle node now offers only what can join that capture.
            wait_for(lambda: self.enum_formats() == [('YUY2', 640, 480)], 10,
                     lambda: f'offered {self.enum_formats()}\n{self.bridge_log()}')
            # A consumer that takes whatever is offered joins instead of failing.
            p = self.gst('joined', caps='video/x-raw', frames=20)
            self.assert_gst_frames(p, 'joined', 20)
        finally:
            out, err = camctl.communicate(timeout=60)
        self.assertEqual(camctl.returncode, 0, err)
        self.assertGreater(ffprobe_frames(y4m)[3], 0)
        wait_for(lambda: not self.in_use(), 10, 'InUse still true')
        wait_for(lambda: len(self.enum_formats()) > 1, 10,
                 lambda: f'offered {self.enum_formats()} after the camera was freed')

    def test_camerad_restart_ends_the_stream_and_brings_the_node_back(self):
        # Told not to wait for another camera (as an app ending its call would), the
        # consumer's stream is ended by the session manager when the node goes.
        p = self.gst('live', frames=0, src_props=['stream-properties=props,node.dont-reconnect=true'])
        try:
            wait_for(lambda: len(self.pngs('live')) >= 5, 20, lambda: self.gst_log('live'))
            wait_for(lambda: consumer_nodes(), 10, 'the consumer node in pw-dump')
            self.kill9()
            wait_for(lambda: find_node() is None, 10,
                     lambda: 'node still there after camerad died\n' + self.bridge_log())
            self.assertIn('camerad left the bus', self.bridge_log())
            # The stream ended: its node is gone and no frame comes any more. (Debian 12's
            # pipewiresrc, 0.3.65, does not turn its stream ending into an error or EOS,
            # so gst-launch itself waits; later versions have on-disconnect=error.)
            wait_for(lambda: not consumer_nodes(), 10,
                     lambda: 'the consumer stream is still there: ' + json.dumps(consumer_nodes()))
            time.sleep(1)  # a frame already inside the pipeline may still be written
            n = len(self.pngs('live'))
            time.sleep(2)
            self.assertEqual(len(self.pngs('live')), n, 'frames after camerad died')
        finally:
            p.kill()
            p.wait()
        self.restart_daemon()
        self.wait_node()
        self.assertIsNone(self.bridge.poll(), 'the bridge survived the restart')
        p = self.gst('again', frames=10)
        self.assert_gst_frames(p, 'again', 10)

    def test_camera_failure_ends_the_stream_with_camerads_message(self):
        self.stop_daemon()
        wait_for(lambda: find_node() is None, 10, 'node left with camerad')
        self.start_daemon(env={'CAMERAD_TEST_FAIL_AFTER_FRAMES': '40'})
        self.wait_node()
        p = self.gst('failing', frames=0, src_props=['stream-properties=props,node.dont-reconnect=true'])
        try:
            # Session.Error reaches the bridge, which ends the stream with its message.
            wait_for(lambda: 'failure injected by CAMERAD_TEST_FAIL_AFTER_FRAMES' in self.bridge_log(),
                     30, self.bridge_log)
            wait_for(lambda: 'published again' in self.bridge_log(), 10, self.bridge_log)
            wait_for(lambda: not consumer_nodes(), 10,
                     lambda: 'the consumer stream is still there: ' + json.dumps(consumer_nodes()))
            # Frames came until the failure, none after it.
            self.assertTrue(1 <= len(self.pngs('failing')) <= 40, len(self.pngs('failing')))
        finally:
            p.kill()
            p.wait()
        self.assertIsNone(self.bridge.poll(), 'the bridge survived the camera failure')
        wait_for(lambda: not self.in_use(), 10, 'InUse still true after the failure')
        self.assertIsNotNone(self.wait_node())
        # The error reached PipeWire as the node's error (the consumer saw it end).
        self.assertIn('streaming -> error: camerad: ', self.bridge_log())


if __name__ == '__main__':
    camerad_test.main()
