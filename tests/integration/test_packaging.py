# SPDX-License-Identifier: MIT
"""Packaging: the systemd unit's security score and validity, the bus policy and polkit
policy files, and where `meson install` puts each file."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

SOURCE_ROOT = os.environ.get('CAMERAD_SOURCE_ROOT') or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_ROOT = os.environ.get('CAMERAD_BUILD_ROOT', '')
UNIT = os.environ.get('CAMERAD_UNIT') or os.path.join(BUILD_ROOT, 'systemd', 'camerad.service')
DBUS_CONF = os.path.join(SOURCE_ROOT, 'dbus', 'org.camerad.Camera1.conf')
POLKIT_POLICY = os.path.join(SOURCE_ROOT, 'polkit', 'org.camerad.Camera1.policy')
POLKIT_DTD = '/usr/share/polkit-1/policyconfig-1.dtd'
MAX_EXPOSURE = 1.0

OUR_INTERFACES = ['Manager', 'Camera', 'Session', 'Output', 'PreviewOutput', 'PhotoOutput',
                  'VideoOutput', 'ImageProcessSession', 'VideoProcessSession']
STANDARD_INTERFACES = ['org.freedesktop.DBus.Properties',
                       'org.freedesktop.DBus.Introspectable', 'org.freedesktop.DBus.Peer',
                       'org.freedesktop.DBus.ObjectManager']


def need(tool):
    path = shutil.which(tool)
    if path is None:
        raise unittest.SkipTest(f'{tool} not installed')
    return path


def unit_settings(path):
    """[Service] key → list of values, in order."""
    settings = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(('#', ';')):
                continue
            if line.startswith('['):
                section = line.strip('[]')
                continue
            key, _, value = line.partition('=')
            settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


class UnitTest(unittest.TestCase):

    def test_security_exposure_at_most_1_0(self):
        need('systemd-analyze')
        r = subprocess.run(['systemd-analyze', 'security', '--offline=true', '--no-pager',
                            UNIT], capture_output=True, text=True)
        out = r.stdout + r.stderr
        m = re.search(r'Overall exposure level for \S+: (\d+\.\d+)', out)
        self.assertIsNotNone(m, f'no exposure figure in:\n{out}')
        exposure = float(m.group(1))
        print(f'systemd-analyze security exposure: {exposure}')
        self.assertLessEqual(exposure, MAX_EXPOSURE, out)

    def test_security_threshold_is_enforced_by_systemd_analyze(self):
        # The same figure through systemd's own gate, which exits non-zero above it.
        need('systemd-analyze')
        r = subprocess.run(['systemd-analyze', 'security', '--offline=true', '--no-pager',
                            f'--threshold={int(MAX_EXPOSURE * 10)}', UNIT],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_verify(self):
        # `verify` wants the ExecStart binary to exist: check a copy whose ExecStart
        # points at an executable that exists, everything else unchanged.
        need('systemd-analyze')
        with tempfile.TemporaryDirectory() as d:
            with open(UNIT) as f:
                text = f.read()
            text = re.sub(r'^ExecStart=\S+', 'ExecStart=/bin/true', text, flags=re.M)
            copy = os.path.join(d, 'camerad.service')
            with open(copy, 'w') as f:
                f.write(text)
            r = subprocess.run(['systemd-analyze', 'verify', '--man=no', copy],
                               capture_output=True, text=True)
            # Offline, only lines about our own unit count: the host's units may be broken.
            ours = [line for line in (r.stdout + r.stderr).splitlines()
                    if 'camerad.service' in line]
            self.assertEqual(ours, [], '\n'.join(ours))

    def test_required_settings(self):
        s = unit_settings(UNIT)
        expect = {
            'Type': 'dbus', 'BusName': 'org.camerad.Camera1', 'User': 'camerad',
            'StateDirectory': 'camerad', 'StateDirectoryMode': '0700',
            'DevicePolicy': 'closed', 'DeviceAllow': 'char-video4linux rw',
            'NotifyAccess': 'main',
        }
        for key, value in expect.items():
            self.assertEqual(s.get(('Service', key)), [value], key)
        self.assertIn(('Service', 'WatchdogSec'), s)
        self.assertNotIn(('Service', 'PrivateUsers'), s)
        self.assertNotIn(('Service', 'PrivateDevices'), s)

    def test_exec_start_uses_configured_bindir(self):
        r = subprocess.run(['meson', 'introspect', '--buildoptions', BUILD_ROOT],
                           capture_output=True, text=True, check=True)
        import json
        opts = {o['name']: o['value'] for o in json.loads(r.stdout)}
        bindir = os.path.join(opts['prefix'], opts['bindir'])
        s = unit_settings(UNIT)
        self.assertEqual(s[('Service', 'ExecStart')], [f'{bindir}/camerad --system'])

    def test_sysusers_creates_camerad_in_video(self):
        with open(os.path.join(SOURCE_ROOT, 'systemd', 'camerad.sysusers')) as f:
            lines = [line.split() for line in f
                     if line.strip() and not line.startswith('#')]
        self.assertIn(['u', 'camerad'], [x[:2] for x in lines])
        self.assertIn(['m', 'camerad', 'video'], [x[:3] for x in lines])


class BusPolicyFileTest(unittest.TestCase):

    def test_well_formed(self):
        need('xmllint')
        r = subprocess.run(['xmllint', '--noout', DBUS_CONF], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_dbus_daemon_accepts_it(self):
        # The busconfig DTD shipped by dbus-1-doc predates send_destination=, so the real
        # check is dbus-daemon parsing it (as an <include> of a minimal bus config).
        daemon = need('dbus-daemon')
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, 'bus.conf')
            with open(conf, 'w') as f:
                f.write('<busconfig><listen>unix:path=%s/bus</listen><auth>EXTERNAL</auth>'
                        '<include>%s</include></busconfig>' % (d, DBUS_CONF))
            p = subprocess.Popen([daemon, f'--config-file={conf}', '--nofork',
                                  '--nopidfile', '--print-address'],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            address = p.stdout.readline().strip()
            p.terminate()
            _, err = p.communicate(10)
            self.assertTrue(address.startswith('unix:'), err)
            # The camerad user need not exist where the tests run.
            complaints = [line for line in err.splitlines()
                          if ('Unknown' in line or 'rror in' in line)
                          and 'username "camerad"' not in line]
            self.assertEqual(complaints, [])

    def test_policy_content(self):
        root = ET.parse(DBUS_CONF).getroot()
        owners = set()
        sends = set()
        for policy in root.iter('policy'):
            for el in policy:
                self.assertEqual(el.tag, 'allow', 'the file only opens holes')
                if 'own' in el.attrib:
                    self.assertEqual(el.attrib['own'], 'org.camerad.Camera1')
                    owners.add(policy.attrib.get('user'))
                    self.assertNotIn('context', policy.attrib)
                else:
                    self.assertEqual(el.attrib.get('send_destination'), 'org.camerad.Camera1')
                    self.assertEqual(set(el.attrib), {'send_destination', 'send_interface'})
                    self.assertEqual(policy.attrib.get('context'), 'default')
                    sends.add(el.attrib['send_interface'])
        self.assertEqual(owners, {'root', 'camerad'})
        self.assertEqual(sends, {'org.camerad.Camera1.' + i for i in OUR_INTERFACES}
                         | set(STANDARD_INTERFACES))


class InterfaceXmlTest(unittest.TestCase):

    def test_every_interface_has_a_valid_file(self):
        need('xmllint')
        dtd = '/usr/share/xml/dbus-1/introspect.dtd'
        for iface in OUR_INTERFACES:
            path = os.path.join(SOURCE_ROOT, 'dbus', f'org.camerad.Camera1.{iface}.xml')
            with self.subTest(interface=iface):
                self.assertTrue(os.path.exists(path), f'{path} missing')
                args = ['xmllint', '--noout']
                if os.path.exists(dtd):
                    args += ['--dtdvalid', dtd]
                r = subprocess.run(args + [path], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                names = [i.attrib['name'] for i in ET.parse(path).getroot().iter('interface')]
                self.assertEqual(names, [f'org.camerad.Camera1.{iface}'])


class PolkitPolicyTest(unittest.TestCase):

    def test_valid_against_dtd(self):
        need('xmllint')
        args = ['xmllint', '--noout']
        if os.path.exists(POLKIT_DTD):
            args += ['--dtdvalid', POLKIT_DTD]
        r = subprocess.run(args + [POLKIT_POLICY], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_actions(self):
        root = ET.parse(POLKIT_POLICY).getroot()
        actions = {a.attrib['id']: {d.tag: d.text for d in a.find('defaults')}
                   for a in root.iter('action')}
        self.assertEqual(actions, {
            'org.camerad.Camera1.use-camera': {
                'allow_any': 'no', 'allow_inactive': 'no', 'allow_active': 'yes'},
            'org.camerad.Camera1.manage': {
                'allow_any': 'auth_admin_keep', 'allow_inactive': 'auth_admin_keep',
                'allow_active': 'auth_admin_keep'},
        })


def pkg_var(package, variable):
    try:
        r = subprocess.run(['pkg-config', f'--variable={variable}', package],
                           capture_output=True, text=True)
    except FileNotFoundError:
        return ''
    return r.stdout.strip() if r.returncode == 0 else ''


class InstallTest(unittest.TestCase):
    """`meson install --destdir` puts each file where pkg-config says (or the fallbacks)."""

    def setUp(self):
        if not BUILD_ROOT:
            self.skipTest('CAMERAD_BUILD_ROOT not set')
        import json
        r = subprocess.run(['meson', 'introspect', '--buildoptions', BUILD_ROOT],
                           capture_output=True, text=True, check=True)
        self.opts = {o['name']: o['value'] for o in json.loads(r.stdout)}

    def expected_paths(self):
        prefix = self.opts['prefix']
        datadir = os.path.join(prefix, self.opts['datadir'])
        bindir = os.path.join(prefix, self.opts['bindir'])
        services = (self.opts.get('dbus_system_bus_services_dir')
                    or pkg_var('dbus-1', 'system_bus_services_dir')
                    or os.path.join(datadir, 'dbus-1', 'system-services'))
        units = (pkg_var('systemd', 'systemdsystemunitdir')
                 or os.path.join(prefix, 'lib', 'systemd', 'system'))
        sysusers = (pkg_var('systemd', 'sysusersdir')
                    or os.path.join(prefix, 'lib', 'sysusers.d'))
        policies = (pkg_var('polkit-gobject-1', 'policydir')
                    or os.path.join(datadir, 'polkit-1', 'actions'))
        dbus_datadir = pkg_var('dbus-1', 'datadir') or datadir
        interfaces = (pkg_var('dbus-1', 'interfaces_dir')
                      or os.path.join(dbus_datadir, 'dbus-1', 'interfaces'))
        return bindir, {
            'bus policy': os.path.join(dbus_datadir, 'dbus-1', 'system.d',
                                       'org.camerad.Camera1.conf'),
            'interface XML': os.path.join(interfaces,
                                          'org.camerad.Camera1.ImageProcessSession.xml'),
            'activation file': os.path.join(services, 'org.camerad.Camera1.service'),
            'unit': os.path.join(units, 'camerad.service'),
            'sysusers': os.path.join(sysusers, 'camerad.conf'),
            'polkit policy': os.path.join(policies, 'org.camerad.Camera1.policy'),
        }

    def test_install_puts_files_in_place(self):
        bindir, expected = self.expected_paths()
        with tempfile.TemporaryDirectory() as destdir:
            r = subprocess.run(['meson', 'install', '-C', BUILD_ROOT, '--no-rebuild',
                                '--quiet', '--destdir', destdir],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for what, path in expected.items():
                landed = os.path.join(destdir, path.lstrip('/'))
                self.assertTrue(os.path.isfile(landed), f'{what}: {landed} missing')
            unit = os.path.join(destdir, expected['unit'].lstrip('/'))
            self.assertEqual(unit_settings(unit)[('Service', 'ExecStart')],
                             [f'{bindir}/camerad --system'])
            activation = os.path.join(destdir, expected['activation file'].lstrip('/'))
            with open(activation) as f:
                text = f.read()
            self.assertIn('SystemdService=camerad.service\n', text)
            self.assertIn('User=camerad\n', text)
            self.assertIn(f'Exec={bindir}/camerad --system\n', text)


if __name__ == '__main__':
    unittest.main(verbosity=2)
