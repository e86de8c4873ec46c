# SPDX-License-Identifier: MIT
"""One D-Bus method call made by a process running as another uid (setpriv), for the
cross-user tests. Part of the harness; import it through camerad_test."""

import base64
import json
import os
import subprocess

import dbus

PYTHON = '/usr/bin/python3'
BUS_NAME = 'org.camerad.Camera1'


class CallResult:
    """Outcome of a call made in another process: `ok` and `value` (a list of the reply's
    arguments, JSON-decoded, fds as {'fd': {'size', 'flags', 'data_b64'}}) or
    `error_name` and `error_message`."""

    def __init__(self, d):
        self.ok = d.get('ok', False)
        self.value = d.get('value')
        self.error_name = d.get('error')
        self.error_message = d.get('message', '')

    def __repr__(self):
        if self.ok:
            return f'CallResult(ok, {self.value!r})'
        return f'CallResult({self.error_name}: {self.error_message})'


# Typed values survive the trip to the child process as {"$t": signature, "v": value}.
def _encode(v):
    if isinstance(v, bool) or isinstance(v, dbus.Boolean):
        return {'$t': 'b', 'v': bool(v)}
    for cls, sig in ((dbus.Byte, 'y'), (dbus.Int16, 'n'), (dbus.UInt16, 'q'),
                     (dbus.Int32, 'i'), (dbus.UInt32, 'u'), (dbus.Int64, 'x'),
                     (dbus.UInt64, 't')):
        if isinstance(v, cls):
            return {'$t': sig, 'v': int(v)}
    if isinstance(v, dbus.Double):
        return {'$t': 'd', 'v': float(v)}
    if isinstance(v, dbus.ObjectPath):
        return {'$t': 'o', 'v': str(v)}
    if isinstance(v, (bytes, bytearray, dbus.ByteArray)):
        return {'$t': 'ay', 'v': base64.b64encode(bytes(v)).decode()}
    if isinstance(v, FdArg):
        return {'$t': 'h', 'path': v.path, 'flags': v.flags}
    if isinstance(v, dict):
        return {'$t': 'dict', 'v': [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return {'$t': 'list', 'v': [_encode(x) for x in v]}
    return v  # str, int, float as JSON


class FdArg:
    """A file descriptor argument for call_as(): the child process opens `path` with
    `flags` (as that uid) and passes the fd."""

    def __init__(self, path, flags=os.O_RDONLY):
        self.path = path
        self.flags = flags


_CHILD = r'''
import base64, json, os, sys, fcntl
import dbus
def dec(v):
    if isinstance(v, dict) and '$t' in v:
        t = v['$t']
        if t == 'h':
            return dbus.types.UnixFd(os.open(v['path'], v['flags']))
        if t == 'dict':
            return dbus.Dictionary({dec(k): dec(x) for k, x in v['v']})
        if t == 'list':
            return [dec(x) for x in v['v']]
        if t == 'ay':
            return dbus.ByteArray(base64.b64decode(v['v']))
        return {'b': dbus.Boolean, 'y': dbus.Byte, 'n': dbus.Int16, 'q': dbus.UInt16,
                'i': dbus.Int32, 'u': dbus.UInt32, 'x': dbus.Int64, 't': dbus.UInt64,
                'd': dbus.Double, 'o': dbus.ObjectPath}[t](v['v'])
    return v
def enc(v):
    if isinstance(v, dbus.types.UnixFd):
        fd = v.take()
        st = os.fstat(fd)
        os.lseek(fd, 0, os.SEEK_SET)
        data = b''
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            data += b
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        os.close(fd)
        return {'fd': {'size': st.st_size, 'flags': flags,
                       'data_b64': base64.b64encode(data).decode()}}
    if isinstance(v, (dbus.ByteArray, bytes)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, dict):
        return {str(k): enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    return str(v)
req = json.loads(sys.stdin.read())
try:
    bus = dbus.bus.BusConnection(req['address'])
    obj = bus.get_object(req['dest'], req['path'], introspect=False)
    args = [dec(a) for a in req['args']]
    reply = obj.get_dbus_method(req['method'], req['iface'])(
        *args, signature=req['signature'], timeout=req['timeout'])
    if reply is None:
        reply = []
    elif not isinstance(reply, tuple):
        reply = [reply]
    out = {'ok': True, 'value': [enc(x) for x in reply]}
except dbus.exceptions.DBusException as e:
    out = {'ok': False, 'error': e.get_dbus_name(), 'message': e.get_dbus_message() or ''}
print(json.dumps(out))
'''


def run_as(uid, argv, gid=None, **kwargs):
    """Run argv as uid (and gid, default = uid) without supplementary groups."""
    gid = uid if gid is None else gid
    cmd = ['setpriv', f'--reuid={uid}', f'--regid={gid}', '--clear-groups'] + list(argv)
    kwargs.setdefault('cwd', '/')
    return subprocess.run(cmd, **kwargs)


def call_as(address, uid, path, iface, method, signature='', *args, dest=BUS_NAME,
            timeout=30):
    """Make one D-Bus method call from a process running as `uid`."""
    req = {'address': address, 'dest': dest, 'path': path, 'iface': iface,
           'method': method, 'signature': signature, 'args': [_encode(a) for a in args],
           'timeout': timeout}
    r = run_as(uid, [PYTHON, '-c', _CHILD], input=json.dumps(req), capture_output=True,
               text=True, timeout=timeout + 30)
    if r.returncode != 0 or not r.stdout.strip():
        raise RuntimeError(f'call_as({uid}) child failed ({r.returncode}): {r.stderr}')
    return CallResult(json.loads(r.stdout.strip().splitlines()[-1]))
