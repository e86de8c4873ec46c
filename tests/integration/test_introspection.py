# SPDX-License-Identifier: MIT
"""dbus/org.camerad.Camera1.*.xml against the live daemon's Introspect output: every
method, argument (type, direction, name where both give one), signal, property (type,
access, EmitsChangedSignal where the XML states it) must match, in both directions, so
the documentation and the daemon never drift."""

import glob
import os
import xml.etree.ElementTree as ET

import dbus

import camerad_test
from camerad_test import IFACE_PREFIX, ROOT_PATH

DBUS_DIR = os.path.join(camerad_test.SOURCE_ROOT, 'dbus')
EMITS = 'org.freedesktop.DBus.Property.EmitsChangedSignal'


def describe(iface_el):
    """An interface element → comparable description."""
    def args(el, default_dir):
        return [(a.attrib['type'], a.attrib.get('direction', default_dir),
                 a.attrib.get('name')) for a in el.findall('arg')]

    methods = {m.attrib['name']: args(m, 'in') for m in iface_el.findall('method')}
    signals = {s.attrib['name']: args(s, 'out') for s in iface_el.findall('signal')}
    props = {}
    for p in iface_el.findall('property'):
        emits = None
        for a in p.findall('annotation'):
            if a.attrib['name'] == EMITS:
                emits = a.attrib['value']
        props[p.attrib['name']] = (p.attrib['type'], p.attrib['access'], emits)
    return methods, signals, props


def interface_files():
    """interface name → XML element, from every dbus/org.camerad.*.xml."""
    out = {}
    for path in sorted(glob.glob(os.path.join(DBUS_DIR, 'org.camerad.*.xml'))):
        for iface in ET.parse(path).getroot().iter('interface'):
            out[iface.attrib['name']] = (path, iface)
    return out


class IntrospectionTest(camerad_test.CameradTestCase):

    def live_objects(self):
        """Paths to introspect: the root, cameras, a session with one output of each
        kind, and the caller's image and video process sessions."""
        paths = [ROOT_PATH]
        mgr = self.manager
        paths += [str(p) for p in self.get_property(ROOT_PATH, 'Manager', 'Cameras')]
        try:
            session = str(mgr.CreateSession('photo'))
            paths.append(session)
            s = self.iface(session, 'Session')
            for kind in ('preview', 'photo', 'video'):
                paths.append(str(s.CreateOutput(kind, dbus.Dictionary({}, signature='sv'))))
        except dbus.exceptions.DBusException as e:
            print(f'note: session objects not introspected: {e}')
        for getter in ('GetImageProcessSession', 'GetVideoProcessSession'):
            try:
                paths.append(str(getattr(mgr, getter)()))
            except dbus.exceptions.DBusException as e:
                print(f'note: {getter}: {e}')
        return paths

    def live_interfaces(self):
        """interface name → (path, element) for every org.camerad.* interface seen."""
        out = {}
        for path in self.live_objects():
            xml = self.obj(path).Introspect(
                dbus_interface='org.freedesktop.DBus.Introspectable')
            for iface in ET.fromstring(xml).iter('interface'):
                name = iface.attrib['name']
                if name.startswith(IFACE_PREFIX) and name not in out:
                    out[name] = (path, iface)
        return out

    def test_every_documented_interface_matches_the_daemon(self):
        files = interface_files()
        self.assertTrue(files, f'no interface XML in {DBUS_DIR}')
        live = self.live_interfaces()
        for name, (path, el) in sorted(files.items()):
            with self.subTest(interface=name):
                self.assertIn(name, live, f'{os.path.basename(path)}: no live object '
                              f'implements {name}')
                f_methods, f_signals, f_props = describe(el)
                l_methods, l_signals, l_props = describe(live[name][1])
                self.compare(name, 'method', f_methods, l_methods)
                self.compare(name, 'signal', f_signals, l_signals)
                self.assertEqual(sorted(f_props), sorted(l_props), f'{name} properties')
                for prop, (ftype, faccess, femits) in f_props.items():
                    ltype, laccess, lemits = l_props[prop]
                    self.assertEqual((ftype, faccess), (ltype, laccess), f'{name}.{prop}')
                    if femits is not None:
                        self.assertEqual(femits, lemits or 'true',
                                         f'{name}.{prop} EmitsChangedSignal')

    def test_every_live_interface_is_documented(self):
        files = interface_files()
        for name in self.live_interfaces():
            self.assertIn(name, files, f'{name} has no dbus/{name}.xml')

    def compare(self, iface, kind, documented, live):
        self.assertEqual(sorted(documented), sorted(live), f'{iface} {kind}s')
        for member, dargs in documented.items():
            largs = live[member]
            self.assertEqual([(t, d) for t, d, _ in dargs], [(t, d) for t, d, _ in largs],
                             f'{iface}.{member} argument types/directions')
            for (_, _, dname), (_, _, lname) in zip(dargs, largs):
                if dname and lname:
                    self.assertEqual(dname, lname, f'{iface}.{member} argument names')


if __name__ == '__main__':
    camerad_test.main()
