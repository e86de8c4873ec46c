# SPDX-License-Identifier: MIT
"""camctl controls / camctl set against the virtual camera: the table and --json, values
by number, boolean word and menu item name, errors naming the control with nothing set,
and a camera another session holds."""

import json
import os
import subprocess
import unittest

import dbus

import camerad_test
from camerad_test import ROOT_PATH

CAMCTL = camerad_test.CAMCTL_BIN
CAMERA = dbus.ObjectPath(ROOT_PATH + '/camera/0')
EXIT_FAILED, EXIT_USAGE = 1, 2


class CamctlControlsTest(camerad_test.CameradTestCase):
    @classmethod
    def setUpClass(cls):
        if not CAMCTL or not os.access(CAMCTL, os.X_OK):
            raise unittest.SkipTest(f'camctl not built (CAMCTL_BIN={CAMCTL!r})')
        super().setUpClass()

    def camctl(self, *args):
        return subprocess.run([CAMCTL, f'--address={self.address}'] + list(args),
                              capture_output=True, text=True, timeout=60)

    def ok(self, *args):
        r = self.camctl(*args)
        self.assertEqual(r.returncode, 0, f'camctl {" ".join(args)}: {r.stderr!r}')
        return r.stdout

    def fails(self, code, *args):
        r = self.camctl(*args)
        self.assertEqual(r.returncode, code, f'camctl {" ".join(args)}: {r.stdout!r} {r.stderr!r}')
        return r.stderr

    def values(self):
        c = self.get_property(CAMERA, 'Camera', 'Controls')
        return {str(k): int(v['value']) for k, v in c.items()}

    def test_controls_table_and_json(self):
        out = self.ok('controls', 'virtual:0')
        self.assertRegex(out, r'NAME\s+TYPE\s+VALUE\s+DEFAULT\s+RANGE\s+FLAGS')
        self.assertRegex(out, r'\nbrightness\s+integer\s+128\s+128\s+0\.\.255')
        self.assertRegex(out, r'\nhorizontal-flip\s+boolean\s+false\s+false')
        self.assertRegex(out, r'\ncolor-effects\s+menu\s+None\s+None\s+None, Black & White, Sepia, Negative')
        doc = json.loads(self.ok('--json', 'controls', '0'))
        self.assertEqual(doc['brightness']['type'], 'integer')
        self.assertEqual((doc['brightness']['min'], doc['brightness']['max']), (0, 255))
        self.assertIs(doc['brightness']['read-only'], False)
        self.assertEqual(doc['color-effects']['menu'],
                         {'0': 'None', '1': 'Black & White', '2': 'Sepia', '3': 'Negative'})
        self.assertEqual(set(doc), set(self.values()))

    def test_set(self):
        out = self.ok('set', 'virtual:0', 'brightness=200', 'color-effects=sepia',
                      'horizontal-flip=on', 'zoom-absolute=150')
        self.assertIn('brightness=200\n', out)
        self.assertIn('color-effects=2 (Sepia)\n', out)
        v = self.values()
        self.assertEqual((v['brightness'], v['color-effects'], v['horizontal-flip'], v['zoom-absolute']),
                         (200, 2, 1, 150))
        # A menu by number; --json; the short session is gone and the camera free again.
        doc = json.loads(self.ok('--json', 'set', '0', 'color-effects=0', 'horizontal-flip=false'))
        self.assertEqual(doc, {'color-effects': 0, 'horizontal-flip': 0})
        self.assertFalse(self.get_property(CAMERA, 'Camera', 'InUse'))

    def test_bad_values(self):
        before = self.values()
        for arg, name in (('brightness=999', 'brightness'), ('color-effects=purple', 'color-effects'),
                          ('no-such=1', 'no-such'), ('brightness=high', 'brightness')):
            with self.subTest(arg=arg):
                err = self.fails(EXIT_FAILED, 'set', 'virtual:0', 'contrast=1', arg)
                self.assertIn(name, err)
                self.assertIn('InvalidArgument', err)
                self.assertEqual(self.values(), before)
        self.assertIn('boolean', self.fails(EXIT_USAGE, 'set', 'virtual:0', 'horizontal-flip=maybe'))
        self.assertIn('NAME=VALUE', self.fails(EXIT_USAGE, 'set', 'virtual:0', 'brightness'))
        self.fails(EXIT_USAGE, 'set', 'virtual:0')
        self.assertEqual(self.values(), before)

    def test_camera_held_by_another_session(self):
        path = self.manager.CreateSession('photo')
        s = self.iface(path, 'Session')
        self.addCleanup(self._release_quietly, s)
        s.BeginConfig()
        s.AddInput(CAMERA)
        s.AddOutput(s.CreateOutput('photo', dbus.Dictionary({}, signature='sv')))
        s.CommitConfig()
        err = self.fails(EXIT_FAILED, 'set', 'virtual:0', 'brightness=10')
        self.assertIn('in use by another session', err)
        self.assertEqual(self.values()['brightness'], 128)
        # Its owner sets them.
        s.SetControls(dbus.Dictionary({'brightness': dbus.Int64(10)}, signature='sv'))
        self.assertIn('\nbrightness  ', self.ok('controls', 'virtual:0'))
        self.assertEqual(self.values()['brightness'], 10)


if __name__ == '__main__':
    camerad_test.main()
