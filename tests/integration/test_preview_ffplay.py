# SPDX-License-Identifier: MIT
"""`camctl preview | ffplay -` as a person sees it (issue 6's "done when"): ffplay shows
the virtual camera's moving scene in a virtual X server (Xvfb), and screenshots of its
window are checked for the scene: colour bars in the top two thirds, a grey ramp in the
bottom third, an orange disc, all moving. Skips when Xvfb or ffplay is missing (Debian
packages xvfb and ffmpeg)."""

import os
import select
import shutil
import signal
import subprocess
import time
import unittest

import camerad_test

CAMCTL = camerad_test.CAMCTL_BIN
XVFB = shutil.which('Xvfb')
FFPLAY = shutil.which('ffplay')
FFMPEG = shutil.which('ffmpeg')

WIDTH, HEIGHT = 640, 480
# The scene (src/capture/virtual-sensor.c): bars above 2/3 of the height, the ramp below;
# the disc (radius height/8) never comes lower than height/2 + height/4 + height/8.
BARS_BOTTOM = HEIGHT * 2 // 3
DISC_LOWEST = HEIGHT // 2 + HEIGHT // 4 + HEIGHT // 8

# The sensor's 75 % bars and the disc (BT.601 limited-range YCbCr), as RGB.
BAR_COLOURS = {
    'light grey': (191, 191, 191), 'yellow': (192, 191, 1), 'cyan': (0, 191, 190),
    'green': (0, 191, 0), 'magenta': (191, 0, 192), 'red': (191, 0, 1),
    'blue': (0, 1, 192), 'black': (0, 0, 0),
}
DISC_COLOUR = (255, 156, 42)
# Distance (RGB, Euclidean) within which a 3x3 block's mean counts as a colour: the sensor
# noise (sigma 7 on luma) averages down to a few units; the nearest two colours above are
# 83 apart (disc and yellow bar).
COLOUR_TOLERANCE = 40

# How long ffplay may take to show its first frame on a loaded 2-core machine.
FIRST_FRAME_TIMEOUT = 60


def rgb_to_ppm(path, rgb, width=WIDTH, height=HEIGHT):
    with open(path, 'wb') as f:
        f.write(b'P6\n%d %d\n255\n' % (width, height))
        f.write(rgb)


class Picture:
    """An RGB24 screenshot of the ffplay window."""

    def __init__(self, rgb, width=WIDTH, height=HEIGHT):
        assert len(rgb) == width * height * 3, len(rgb)
        self.rgb, self.width, self.height = rgb, width, height

    def pixel(self, x, y):
        i = (y * self.width + x) * 3
        return self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]

    def block_mean(self, x, y):
        """Mean RGB of the 3x3 block centred on (x, y)."""
        r = g = b = 0
        for yy in (y - 1, y, y + 1):
            for xx in (x - 1, x, x + 1):
                p = self.pixel(xx, yy)
                r, g, b = r + p[0], g + p[1], b + p[2]
        return r / 9, g / 9, b / 9

    def luma_spread(self):
        """(min, max) of the grey level over a coarse grid."""
        values = [sum(self.pixel(x, y)) / 3 for y in range(4, self.height, 8)
                  for x in range(4, self.width, 8)]
        return min(values), max(values)


def colour_name(rgb):
    """The bar colour (or 'disc') within COLOUR_TOLERANCE of rgb, else None."""
    best, best_d2 = None, COLOUR_TOLERANCE ** 2
    for name, ref in list(BAR_COLOURS.items()) + [('disc', DISC_COLOUR)]:
        d2 = sum((a - b) ** 2 for a, b in zip(rgb, ref))
        if d2 <= best_d2:
            best, best_d2 = name, d2
    return best


def classify_grid(pic, y0, y1, step=8):
    """{(x, y): colour name or None} for 3x3 blocks on a grid over rows [y0, y1)."""
    return {(x, y): colour_name(pic.block_mean(x, y))
            for y in range(y0 + 4, y1 - 1, step) for x in range(4, pic.width - 1, step)}


def disc_centroid(pic):
    """(x, y, samples) of the disc-coloured grid points, or None when there are none."""
    points = [xy for xy, name in classify_grid(pic, 0, DISC_LOWEST + 4, 4).items()
              if name == 'disc']
    if not points:
        return None
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points),
            len(points))


def ramp_profile(pic, bins=16):
    """Mean grey level of `bins` column bands over the rows below the disc's reach, and the
    mean colourfulness (max - min channel) there."""
    rows = range(DISC_LOWEST + 8, pic.height - 2, 3)
    band = pic.width // bins
    levels, chroma = [], []
    for k in range(bins):
        total = n = 0
        for y in rows:
            for x in range(k * band + 1, (k + 1) * band - 1, 2):
                p = pic.pixel(x, y)
                total += sum(p)
                chroma.append(max(p) - min(p))
                n += 1
        levels.append(total / (3 * n))
    return levels, sum(chroma) / len(chroma)


class Xvfb:
    """A virtual X server on a free display (-displayfd)."""

    def __init__(self, log_path, timeout=30):
        self.log = open(log_path, 'w')
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [XVFB, '-displayfd', str(write_fd), '-screen', '0', '800x600x24',
                 '-nolisten', 'tcp', '-noreset'],
                pass_fds=(write_fd,), stdout=self.log, stderr=subprocess.STDOUT)
        except BaseException:
            os.close(read_fd)
            os.close(write_fd)
            self.log.close()
            raise
        os.close(write_fd)
        try:
            self.display = self._read_display(read_fd, timeout)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)

    def _read_display(self, fd, timeout):
        data = b''
        deadline = time.monotonic() + timeout
        while not data.endswith(b'\n'):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError(f'Xvfb gave no display number within {timeout} s')
            chunk = os.read(fd, 64)
            if not chunk:
                raise AssertionError(f'Xvfb exited ({self.proc.wait()}) without a display')
            data += chunk
        return ':' + data.decode().strip()

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL; reaps the process."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PreviewFfplayTest(camerad_test.CameradTestCase):

    @classmethod
    def setUpClass(cls):
        if not CAMCTL or not os.access(CAMCTL, os.X_OK):
            raise unittest.SkipTest(f'camctl not built (CAMCTL_BIN={CAMCTL!r})')
        missing = [n for n, p in (('Xvfb (package xvfb)', XVFB),
                                  ('ffplay (package ffmpeg)', FFPLAY),
                                  ('ffmpeg (package ffmpeg)', FFMPEG)) if p is None]
        if missing:
            raise unittest.SkipTest(f'missing: {", ".join(missing)}')
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.procs = []   # stopped in tearDown, last started first
        self.logs = []
        self.xvfb = None

    def tearDown(self):
        # The pipeline goes before the daemon, as when a person closes ffplay.
        try:
            for proc in reversed(self.procs):
                stop_process(proc)
            if self.xvfb is not None:
                self.xvfb.stop()
        finally:
            for f in self.logs:
                f.close()
            super().tearDown()

    def log_path(self, name):
        return os.path.join(self.workdir, f'{self._testMethodName}-{name}')

    def start_pipeline(self, camctl_args=('--size', f'{WIDTH}x{HEIGHT}')):
        """Xvfb, then `camctl preview ... | ffplay -loglevel error -left 0 -top 0 -`."""
        self.xvfb = Xvfb(self.log_path('xvfb.log'))
        self.env = dict(os.environ, DISPLAY=self.xvfb.display, SDL_AUDIODRIVER='dummy')
        self.logs = [open(self.log_path('camctl.log'), 'w'),
                     open(self.log_path('ffplay.log'), 'w')]
        camctl = subprocess.Popen(
            [CAMCTL, f'--address={self.address}', 'preview', *camctl_args],
            stdout=subprocess.PIPE, stderr=self.logs[0])
        self.procs.append(camctl)
        ffplay = subprocess.Popen(
            [FFPLAY, '-loglevel', 'error', '-left', '0', '-top', '0', '-'],
            stdin=camctl.stdout, stdout=subprocess.DEVNULL, stderr=self.logs[1], env=self.env)
        camctl.stdout.close()  # ffplay holds the read end alone: camctl sees it close
        self.procs.append(ffplay)
        self.camctl, self.ffplay = camctl, ffplay

    def pipeline_logs(self):
        text = []
        for name in ('camctl.log', 'ffplay.log', 'xvfb.log'):
            try:
                with open(self.log_path(name), errors='replace') as f:
                    text.append(f'--- {name}:\n{f.read()[-4000:]}')
            except OSError:
                pass
        return '\n'.join(text)

    def screenshot(self, name):
        """The screen's top-left WIDTH x HEIGHT (where ffplay's window is), as a Picture;
        also saved as <test>-<name>.ppm next to the logs (kept with CAMERAD_KEEP_WORKDIR=1)."""
        r = subprocess.run(
            [FFMPEG, '-loglevel', 'error', '-f', 'x11grab', '-draw_mouse', '0',
             '-video_size', f'{WIDTH}x{HEIGHT}', '-i', f'{self.xvfb.display}+0,0',
             '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
            capture_output=True, env=self.env, timeout=60)
        self.assertEqual(r.returncode, 0, f'x11grab failed: {r.stderr.decode()}')
        rgb_to_ppm(self.log_path(f'{name}.ppm'), r.stdout)
        return Picture(r.stdout)

    def wait_for_picture(self, timeout):
        """Screenshots until one is not (nearly) uniform: ffplay shows frames. Fails early
        when camctl or ffplay exits."""
        deadline = time.monotonic() + timeout
        while True:
            pic = self.screenshot('first')
            low, high = pic.luma_spread()
            if high - low > 100:
                return pic
            for name, proc in (('camctl', self.camctl), ('ffplay', self.ffplay)):
                if proc.poll() is not None:
                    self.fail(f'{name} exited with {proc.returncode} before a picture was '
                              f'on the screen (grey levels {low:.0f}..{high:.0f}):\n'
                              + self.pipeline_logs())
            if time.monotonic() >= deadline:
                self.fail(f'no picture on the screen within {timeout} s (grey levels '
                          f'{low:.0f}..{high:.0f}):\n' + self.pipeline_logs())
            time.sleep(0.5)

    def assertBars(self, pic):
        """The top two thirds: mostly bar colours (the disc may cover some), at least 5 of
        the 8 bars, at least 3 of them saturated. Returns the grid's classification."""
        grid = classify_grid(pic, 0, BARS_BOTTOM)
        counts = {}
        for name in grid.values():
            counts[name] = counts.get(name, 0) + 1
        known = sum(n for name, n in counts.items() if name is not None)
        self.assertGreaterEqual(known / len(grid), 0.8,
                                f'the top region is not mostly bars and disc: {counts}')
        # A bar is there when it covers at least a fifth of its share of the width.
        present = [name for name in BAR_COLOURS if counts.get(name, 0) >= len(grid) / 40]
        self.assertGreaterEqual(len(present), 5, f'bars seen: {present}; counts {counts}')
        # Each bar is an eighth of the width: one colour over much more is not the bars
        # (e.g. a black screen around a smaller picture).
        widest = max(counts.get(name, 0) for name in BAR_COLOURS)
        self.assertLessEqual(widest / len(grid), 0.25, f'one colour dominates: {counts}')
        saturated = [n for n in present if n not in ('light grey', 'black')]
        self.assertGreaterEqual(len(saturated), 3, f'bars seen: {present}')
        return grid

    def assertRamp(self, pic):
        levels, colourfulness = ramp_profile(pic)
        rounded = [round(v) for v in levels]
        for k in range(1, len(levels)):
            self.assertGreater(levels[k], levels[k - 1],
                               f'the bottom is not a left-to-right increasing ramp: {rounded}')
        self.assertGreater(levels[-1] - levels[0], 150, f'ramp too flat: {rounded}')
        self.assertLess(colourfulness, 30, 'the ramp is not grey')

    def test_ffplay_shows_the_moving_scene(self):
        self.start_pipeline()
        first = self.wait_for_picture(FIRST_FRAME_TIMEOUT * (4 if self.daemon.valgrind else 1))
        # Let ffplay settle past its first frames before the pictures that are judged.
        time.sleep(1.0)
        a = self.screenshot('a')
        time.sleep(1.0)
        b = self.screenshot('b')
        for name, proc in (('camctl', self.camctl), ('ffplay', self.ffplay)):
            self.assertIsNone(proc.poll(), f'{name} exited:\n' + self.pipeline_logs())

        low, high = first.luma_spread()
        self.assertGreater(high - low, 100)
        grid_a, grid_b = self.assertBars(a), self.assertBars(b)
        self.assertRamp(a)
        self.assertRamp(b)

        # The bars scroll one bar width (80 px) per second: where both pictures show a bar,
        # most of those places now show another one.
        both = [xy for xy in grid_a
                if grid_a[xy] in BAR_COLOURS and grid_b[xy] in BAR_COLOURS]
        changed = sum(1 for xy in both if grid_a[xy] != grid_b[xy])
        self.assertGreater(len(both), len(grid_a) / 2)
        self.assertGreaterEqual(changed / len(both), 0.3,
                                f'the bars did not move: {changed} of {len(both)} changed')

        # The disc is always wholly in the picture (about 11300 px: ~700 grid points) and
        # moves.
        disc_a, disc_b = disc_centroid(a), disc_centroid(b)
        for disc in (disc_a, disc_b):
            self.assertIsNotNone(disc, 'no orange disc')
            self.assertGreater(disc[2], 300, f'the disc is too small: {disc}')
        moved = ((disc_a[0] - disc_b[0]) ** 2 + (disc_a[1] - disc_b[1]) ** 2) ** 0.5
        self.assertGreater(moved, 3, f'the disc did not move: {disc_a} then {disc_b}')

        # Closing ffplay ends camctl by itself, with success, as for a person who closes
        # the window.
        stop_process(self.ffplay)
        try:
            rc = self.camctl.wait(30)
        except subprocess.TimeoutExpired:
            self.fail('camctl still runs 30 s after ffplay closed:\n' + self.pipeline_logs())
        self.assertEqual(rc, 0, self.pipeline_logs())
        with open(self.log_path('camctl.log')) as f:
            self.assertIn('the reader closed the pipe', f.read())


if __name__ == '__main__':
    camerad_test.main()
