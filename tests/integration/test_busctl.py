# SPDX-License-Identifier: MIT
"""Driving camerad with busctl alone, as a new user would (issue 4's "Done when").

Every busctl command is a new bus connection, so this works only with a persistent
session: Manager.CreateSessionWithOptions("photo", {"persist": true}) gives a session
owned by the caller's uid, released by Release() or its idle timeout. The commands run as
an unprivileged uid (USER, polkit's use-camera allowed by the mock) through setpriv;
nobody (65534) is the other user.

busctl cannot save the contents of a file descriptor it receives: it prints `hs N "proxy"`
with N its own fd number, gone when it exits. So the tests check OpenImage's reply as busctl
prints it and read the bytes of the same image with OpenImage made by a Python client of
the same uid (call_as), then decode them with djpeg and read EXIF with exiftool.

Also here: the race fix of session-capture.c (a camera-failure notice of an earlier Start,
arriving after a quick Stop/Start, must not stop the new run), provoked with the test hooks
CAMERAD_TEST_FAIL_AFTER_FRAMES, CAMERAD_TEST_FAIL_STARTS and
CAMERAD_TEST_FAILURE_NOTICE_DELAY_MS.
"""

import base64
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import dbus

import camerad_test
from camerad_test import NOBODY, ROOT_PATH, run_as, wait_until



def pick_user():
    """An ordinary uid that exists in passwd (dbus-daemon drops connections of a uid it
    cannot look up): the first login user, else any non-root system user but nobody."""
    uids = sorted(p.pw_uid for p in pwd.getpwall() if p.pw_uid not in (0, NOBODY))
    logins = [u for u in uids if 1000 <= u < 60000]
    return (logins or uids or [None])[0]


USER = pick_user()   # runs without groups: only polkit (the mock) lets it use the camera
USE_CAMERA = 'org.camerad.Camera1.use-camera'
D = 'org.camerad.Camera1'
MANAGER = 'org.camerad.Camera1.Manager'
SESSION = 'org.camerad.Camera1.Session'
PHOTO = 'org.camerad.Camera1.PhotoOutput'
IMAGES = 'org.camerad.Camera1.ImageProcessSession'
BUSCTL = shutil.which('busctl')


def quoted(text):
    """The quoted strings of a busctl reply line, e.g. 'as 2 "a" "b"' → ['a', 'b']."""
    return re.findall(r'"([^"]*)"', text)


class BusctlTestCase(camerad_test.CameradTestCase):
    def setUp(self):
        if BUSCTL is None:
            raise unittest.SkipTest('busctl missing')
        if USER is None:
            raise unittest.SkipTest('no non-root user other than nobody in passwd')
        super().setUp()
        self.polkit_allow([USE_CAMERA])

    def busctl(self, *args, uid=USER, check=True):
        """One busctl command as uid; returns the CompletedProcess (text)."""
        r = run_as(uid, [BUSCTL, f'--address={self.address}', *args],
                   capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, f'busctl {" ".join(args)}: {r.stderr}')
        return r

    def call(self, path, iface, method, *args, uid=USER):
        """`busctl call` that must succeed; returns its stdout, stripped."""
        return self.busctl('call', D, path, iface, method, *args, uid=uid).stdout.strip()

    def call_fails(self, path, iface, method, *args, uid=USER):
        """`busctl call` that must fail; returns its stderr."""
        r = self.busctl('call', D, path, iface, method, *args, uid=uid, check=False)
        self.assertNotEqual(r.returncode, 0, f'{method} succeeded: {r.stdout}')
        return r.stderr.strip()

    def create(self, *options, uid=USER):
        """CreateSessionWithOptions('photo', {options}); options as busctl words, e.g.
        ('persist', 'b', 'true'). Returns the session path."""
        n = len(options) // 3
        out = self.call(ROOT_PATH, MANAGER, 'CreateSessionWithOptions', 'sa{sv}', 'photo',
                        str(n), *options, uid=uid)
        return quoted(out)[0]

    def session_exists(self, path):
        names = [str(p) for p in self.bus.get_object(D, ROOT_PATH).GetManagedObjects(
            dbus_interface='org.freedesktop.DBus.ObjectManager')]
        return path in names

    def image_info(self, images, image_id):
        out = self.busctl('--json=short', 'call', D, images, IMAGES, 'GetImageInfo', 's',
                          image_id).stdout
        return {k: v['data'] for k, v in json.loads(out)['data'][0].items()}

    def open_image_bytes(self, images, image_id):
        """(kind, bytes) of OpenImage made by a Python client of USER."""
        value = self.assertCallOk(self.call_as(USER, images, 'ImageProcessSession',
                                               'OpenImage', 's', image_id))
        return value[1], base64.b64decode(value[0]['fd']['data_b64'])


class PersistentSessionTest(BusctlTestCase):
    def test_three_photos_with_busctl_alone(self):
        camera = quoted(self.busctl('get-property', D, ROOT_PATH, MANAGER,
                                    'Cameras').stdout)[0]
        s = self.create('persist', 'b', 'true')
        self.assertEqual(self.busctl('get-property', D, s, SESSION,
                                     'Persistent').stdout.strip(), 'b true')
        self.call(s, SESSION, 'BeginConfig')
        self.call(s, SESSION, 'AddInput', 'o', camera)
        out = quoted(self.call(s, SESSION, 'CreateOutput', 'sa{sv}', 'photo', '3',
                               'format', 's', 'NV12', 'width', 'u', '1280',
                               'height', 'u', '720'))[0]
        self.call(s, SESSION, 'AddOutput', 'o', out)
        self.call(s, SESSION, 'CommitConfig')
        self.call(s, SESSION, 'Start')
        self.assertEqual(self.busctl('get-property', D, s, SESSION, 'State').stdout.strip(),
                         's "running"')
        time.sleep(0.3)  # a full burst in the frame ring

        ids = []
        for _ in range(3):
            ids += quoted(self.call(out, PHOTO, 'Capture', 'a{sv}', '0'))
        self.assertEqual(len(ids), 3)
        for i in ids:
            self.assertRegex(i, r'^[0-9a-f]{32}$')

        images = quoted(self.call(ROOT_PATH, MANAGER, 'GetImageProcessSession'))[0]
        self.assertEqual(images, f'{ROOT_PATH}/image_process/{USER}')
        pending = self.call(images, IMAGES, 'GetPendingImages')
        self.assertEqual(pending, 'as 3 ' + ' '.join(f'"{i}"' for i in ids))
        for i in ids:
            # busctl gets the fd (it prints its own number for it) and the kind...
            self.assertRegex(self.call(images, IMAGES, 'OpenImage', 's', i),
                             r'^hs \d+ "proxy"$')
            self.assertEqual(self.image_info(images, i)['state'], 'pending')
            # ...and the bytes behind it are a JPEG of the output's size.
            kind, data = self.open_image_bytes(images, i)
            self.assertEqual(kind, 'proxy')
            self.assertEqual(camerad_test.djpeg_decodes(data), (True, 1280, 720))

        self.call(s, SESSION, 'Stop')
        wait_until(lambda: all(self.image_info(images, i)['state'] == 'done' for i in ids),
                   timeout=120)
        self.assertEqual(self.call(images, IMAGES, 'GetPendingImages'), 'as 0')
        for i in ids:
            self.assertRegex(self.call(images, IMAGES, 'OpenImage', 's', i), r'^hs \d+ "final"$')
            kind, data = self.open_image_bytes(images, i)
            self.assertEqual(kind, 'final')
            self.assertEqual(camerad_test.djpeg_decodes(data), (True, 1280, 720))
            exif = self.exiftool(data)
            self.assertEqual((exif.get('ImageWidth'), exif.get('ImageHeight')), (1280, 720))
            for tag in ('Make', 'Model', 'DateTimeOriginal', 'Software'):
                self.assertTrue(exif.get(tag), f'final {i} has no EXIF {tag}: {exif}')

        self.call(s, SESSION, 'Release')
        self.assertFalse(self.session_exists(s))

    def exiftool(self, data):
        with tempfile.NamedTemporaryFile(suffix='.jpg') as f:
            f.write(data)
            f.flush()
            r = subprocess.run(['exiftool', '-j', '-EXIF:all', '-File:ImageWidth',
                                '-File:ImageHeight', f.name],
                               capture_output=True, text=True, check=True)
        return json.loads(r.stdout)[0]

    def test_readme_busctl_block_runs_as_printed(self):
        """The README's busctl walkthrough, run as printed against this daemon (only the
        bus address is this test's; `busctl monitor` is left out because it never ends)."""
        with open(os.path.join(camerad_test.SOURCE_ROOT, 'README.md')) as f:
            readme = f.read()
        start = readme.index('```sh\n', readme.index('### busctl')) + len('```sh\n')
        block = readme[start:readme.index('```', start)]
        lines = [l for l in block.splitlines() if 'busctl $A monitor' not in l]
        self.assertTrue(lines[0].startswith('A='), lines[0])
        lines[0] = f'A="--address={self.address}"'
        path = os.path.dirname(camerad_test.CAMCTL_BIN) + ':' + os.environ.get('PATH', '')
        with tempfile.TemporaryDirectory() as work:
            r = subprocess.run(['bash', '-e', '-c', 'set -o pipefail\n' + '\n'.join(lines)],
                               cwd=work, capture_output=True, text=True, timeout=180,
                               env={**os.environ, 'PATH': path})
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r'as 3 "[0-9a-f]{32}" "[0-9a-f]{32}" "[0-9a-f]{32}"')
            self.assertIn('"state" s "done"', r.stdout)
            self.assertIn('hs ', r.stdout)
            self.assertRegex(r.stdout, r'DateTimeOriginal\s*: \d{4}:\d\d:\d\d')
            with open(os.path.join(work, 'final.jpg'), 'rb') as f:
                self.assertEqual(camerad_test.djpeg_decodes(f.read()), (True, 1280, 720))
        self.assertEqual([p for p in self.managed_paths() if '/session/' in p], [])

    def test_other_uid_is_denied_and_same_uid_connections_are_not(self):
        s = self.create('persist', 'b', 'true')
        # busctl prints strerror(EACCES) for AccessDenied; call_as shows name and message.
        self.assertIn('Access denied', self.call_fails(s, SESSION, 'BeginConfig', uid=NOBODY))
        r = self.call_as(NOBODY, s, 'Session', 'Release')
        self.assertCallError(r, camerad_test.ACCESS_DENIED)
        self.assertIn(f'{s} belongs to uid {USER}; the caller is', r.error_message)
        r = self.call_as(0, s, 'Session', 'Release')  # root is just another uid here
        self.assertCallError(r, camerad_test.ACCESS_DENIED)
        # A Python connection of the same uid may drive it, as may a later busctl.
        self.assertCallOk(self.call_as(USER, s, 'Session', 'BeginConfig'))
        self.assertEqual(self.busctl('get-property', D, s, SESSION, 'State').stdout.strip(),
                         's "configuring"')
        self.call(s, SESSION, 'Release')
        self.assertFalse(self.session_exists(s))

    def test_without_persist_it_is_create_session(self):
        # busctl leaves at once: the session it created is released with it.
        for options in ((), ('persist', 'b', 'false')):
            s = self.create(*options)
            # Released when busctl left the bus.
            wait_until(lambda: not self.session_exists(s), timeout=5)
        # The same for a Python client that stays: it owns the session by connection.
        path = self.manager.CreateSessionWithOptions(
            'photo', dbus.Dictionary({'persist': dbus.Boolean(False)}, signature='sv'))
        self.assertEqual(self.get_property(path, 'Session', 'Persistent'), False)
        self.assertCallError(self.call_as(0, path, 'Session', 'BeginConfig'),
                             camerad_test.ACCESS_DENIED)
        self.iface(path, 'Session').Release()
        path = self.manager.CreateSession('photo')
        self.assertEqual(self.get_property(path, 'Session', 'Persistent'), False)
        self.iface(path, 'Session').Release()

    def test_bad_options_are_invalid_argument(self):
        cases = [
            (('bogus', 'u', '5'), "unknown options key 'bogus'"),
            (('persist', 's', 'yes'), "options key 'persist' must be of type 'b'"),
            (('persist', 'b', 'true', 'idle-timeout', 'i', '10'),
             "options key 'idle-timeout' must be of type 'u'"),
            (('persist', 'b', 'true', 'idle-timeout', 'u', '4'), "'idle-timeout' must be 5..86400"),
            (('persist', 'b', 'true', 'idle-timeout', 'u', '86401'),
             "'idle-timeout' must be 5..86400"),
            (('idle-timeout', 'u', '60'), "'idle-timeout' needs 'persist' true"),
        ]
        for options, message in cases:
            with self.subTest(options=options):
                err = self.call_fails(ROOT_PATH, MANAGER, 'CreateSessionWithOptions', 'sa{sv}',
                                      'photo', str(len(options) // 3), *options)
                self.assertIn('7400101: ', err)
                self.assertIn(message, err)
                r = self.call_as(USER, ROOT_PATH, 'Manager', 'CreateSessionWithOptions',
                                 'sa{sv}', 'photo', _options(options))
                self.assertCallError(r, 'InvalidArgument', '7400101: ')
        r = self.call_as(USER, ROOT_PATH, 'Manager', 'CreateSessionWithOptions', 'sa{sv}',
                         'panorama', _options(('persist', 'b', 'true')))
        self.assertCallError(r, 'InvalidArgument', '7400101: CreateSessionWithOptions: mode')
        self.assertFalse([p for p in self.managed_paths() if '/session/' in p])

    def test_polkit_and_per_uid_limit(self):
        self.polkit_allow([])
        r = self.call_as(USER, ROOT_PATH, 'Manager', 'CreateSessionWithOptions', 'sa{sv}',
                         'photo', _options(('persist', 'b', 'true')))
        self.assertCallError(r, camerad_test.ACCESS_DENIED)
        self.polkit_allow([USE_CAMERA])
        made = [self.create('persist', 'b', 'true') for _ in range(8)]
        self.assertEqual(len(set(made)), 8)
        err = self.call_fails(ROOT_PATH, MANAGER, 'CreateSessionWithOptions', 'sa{sv}',
                              'photo', '1', 'persist', 'b', 'true')
        self.assertIn('7400102: ', err)
        self.assertIn(f'uid {USER} already holds 8 persistent sessions', err)
        # Another uid has its own count; connection-owned sessions are not limited by them.
        other = self.create('persist', 'b', 'true', uid=NOBODY)
        self.call(other, SESSION, 'Release', uid=NOBODY)
        self.assertCallOk(self.call_as(USER, ROOT_PATH, 'Manager', 'CreateSession', 's',
                                       'photo'))
        self.call(made[0], SESSION, 'Release')
        self.create('persist', 'b', 'true')

    def managed_paths(self):
        return [str(p) for p in self.bus.get_object(D, ROOT_PATH).GetManagedObjects(
            dbus_interface='org.freedesktop.DBus.ObjectManager')]

    def test_idle_timeout_releases_even_while_running(self):
        camera = quoted(self.busctl('get-property', D, ROOT_PATH, MANAGER,
                                    'Cameras').stdout)[0]
        removed = self.signals('org.freedesktop.DBus.ObjectManager',
                               member='InterfacesRemoved')
        s = self.create('persist', 'b', 'true', 'idle-timeout', 'u', '5')
        t0 = time.monotonic()
        time.sleep(3)
        self.call(s, SESSION, 'BeginConfig')  # a call re-arms the timer: 5 s from now
        t_call = time.monotonic()
        self.call(s, SESSION, 'AddInput', 'o', camera)
        out = quoted(self.call(s, SESSION, 'CreateOutput', 'sa{sv}', 'photo', '0'))[0]
        self.call(s, SESSION, 'AddOutput', 'o', out)
        self.call(s, SESSION, 'CommitConfig')
        self.call(s, SESSION, 'Start')
        t_last = time.monotonic()
        self.assertEqual(self.get_property(camera, 'Camera', 'InUse'), True)
        # Past the first deadline (t0 + 5 s): alive, because of the calls.
        while time.monotonic() < t0 + 6.5:
            camerad_test.pump(0.1)
        self.assertLess(t_call, t0 + 5)
        self.assertTrue(self.session_exists(s), 'released although its owner called')
        # Property reads are not calls; while running with nobody calling it goes.
        wait_until(lambda: not self.session_exists(s), timeout=15)
        gone = time.monotonic()
        self.assertGreaterEqual(gone - t_last, 4.5, 'released before its idle timeout')
        removed.wait_for('InterfacesRemoved', lambda a: str(a[0]) == s)
        self.assertEqual(self.get_property(camera, 'Camera', 'InUse'), False)
        self.assertIn(f'{s}: no call from uid {USER} for 5 s; releasing',
                      self.daemon_log())



def _options(triples):
    """busctl-style ('key', 'type', 'value', ...) → a dbus.Dictionary a{sv}."""
    conv = {'b': lambda v: dbus.Boolean(v == 'true'), 'u': lambda v: dbus.UInt32(int(v)),
            'i': lambda v: dbus.Int32(int(v)), 's': dbus.String}
    d = {}
    for k in range(0, len(triples), 3):
        key, t, v = triples[k:k + 3]
        d[key] = conv[t](v)
    return dbus.Dictionary(d, signature='sv')


class StaleFailureNoticeTest(camerad_test.CameradTestCase):
    """The camera fails after 2 frames in the first two starts of a session, and the
    failure notice waits 1 s on the loop before it acts (a slow mailbox)."""

    daemon_env = {'CAMERAD_TEST_FAIL_AFTER_FRAMES': '2', 'CAMERAD_TEST_FAIL_STARTS': '2',
                  'CAMERAD_TEST_FAILURE_NOTICE_DELAY_MS': '1000'}

    def test_notice_of_an_earlier_start_does_not_stop_the_new_run(self):
        errors = self.signals('Session', member='Error')
        session, _ = self.start_photo_session()

        # Start 1: the injected failure stops the run, 1 s late (the hooks work).
        errors.wait_for('Error', timeout=5)
        wait_until(lambda: self.get_property(session.object_path, 'Session', 'State')
                   == 'committed', timeout=5)

        # Start 2 fails too, but its notice is still held when Stop/Start make start 3.
        session.Start()
        time.sleep(0.4)    # 2 frames at 30 fps: the failure is raised, its notice waits
        session.Stop()
        session.Start()
        t = time.monotonic()
        while time.monotonic() < t + 2.0:   # well past the held notice
            camerad_test.pump(0.1)
        self.assertEqual(self.get_property(session.object_path, 'Session', 'State'), 'running',
                         'the stale notice of start 2 stopped start 3')
        self.assertEqual(len(errors.of('Error')), 1, errors.of('Error'))
        self.assertIn('ignoring a failure notice from start 2; this is start 3',
                      self.daemon_log())


if __name__ == '__main__':
    camerad_test.main()
