# SPDX-License-Identifier: MIT
"""The event loop never waits: Release with a backlog of bursts answers at once, and other
clients are served meanwhile.

A client pipelines 40 Capture({'burst': 16}) calls on a 1920x1080 YUYV session (as in
test_capture_memory), then calls Release while the bursts are still being stored. Another
client (its own connection, in its own process) calls GetConcurrency every 5 ms from before
the Release until after it, timing each call from the moment it was due (so a loop that
stalls counts every call it held up, not just one), until PROBE_AFTER_S after the Release,
while most of the backlog is still being stored. Asserts:

  - Release is done within RELEASE_BOUND_S: answered, and the session gone from the bus
    (InterfacesRemoved), which is when its camera is free again. The old code sent the
    reply first but then waited on the loop for every queued burst to be stored (seconds)
    before the session went;
  - the other client's p99 latency over that time is at most PROBE_P99_BOUND_S;
  - every Capture still gets its image id, and every image is pending on disk (nothing
    queued at Release is lost).

Figures are printed (see the test log). Under CAMERAD_WRAPPER (valgrind) only the
correctness assertions run: the timing bounds are for the plain daemon. In a sanitizer
build the Release bound holds but the 10 ms p99 is not judged: there the photo intake's
instrumented copying competes with the loop for the 2 cores (23 ms seen), which measures
ASan, not waiting (the old code's stall, seconds, still fails the Release bound). The p99 bound is
skipped (the test reports a skip, with the figure) when the same probe before the Release
already exceeds half of it: the machine, not camerad, is then what is measured.
"""

import json
import os
import subprocess
import sys
import time

import dbus

import camerad_test
from camerad_test import BUS_NAME, IFACE_PREFIX, PYTHON

N_CAPTURES = 40
BURST = 16
# Generous: the loop's own work for Release is a few ms; the old code took seconds.
RELEASE_BOUND_S = 0.5
PROBE_P99_BOUND_S = 0.010
PROBE_PERIOD_S = 0.005
# How long the probe goes on after the Release; the backlog takes seconds more.
PROBE_AFTER_S = 1.0
# The p99 bound is judged only where the same probe, run as long before the Release, stays
# within half of it: on a machine whose scheduler alone delays calls by 10 ms (CI hosts
# shared with builds) the bound says nothing about camerad. The old code's stall comes
# with the Release, so this check does not hide it.
BASELINE_P99_MAX_S = PROBE_P99_BOUND_S / 2

# The other client: calls GetConcurrency on a fixed schedule until a line arrives on stdin,
# then prints the latencies (seconds, each from its due time) as JSON.
PROBE = r'''
import json, select, sys, time
import dbus
bus = dbus.bus.BusConnection(sys.argv[1])
ips = dbus.Interface(bus.get_object(sys.argv[2], sys.argv[3]), sys.argv[4])
period = float(sys.argv[5])
ips.GetConcurrency('balanced')
print('ready', flush=True)
latencies = []
t0 = time.monotonic()
k = 0
while not select.select([sys.stdin], [], [], 0)[0]:
    due = t0 + k * period
    now = time.monotonic()
    if now < due:
        time.sleep(due - now)
    ips.GetConcurrency('balanced', timeout=120)
    latencies.append(time.monotonic() - due)
    k += 1
print(json.dumps(latencies), flush=True)
'''


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


class LoopLatencyTest(camerad_test.CameradTestCase):
    def call_timeout(self):
        return 2400 if self.daemon.valgrind else 600

    def start_probe(self, image_path):
        probe = subprocess.Popen(
                [PYTHON, '-c', PROBE, self.address, BUS_NAME, image_path,
                 IFACE_PREFIX + 'ImageProcessSession', str(PROBE_PERIOD_S)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: probe.poll() is None and probe.kill())
        self.assertEqual(probe.stdout.readline().strip(), 'ready')
        return probe

    @staticmethod
    def stop_probe(probe):
        out, _ = probe.communicate('stop\n', timeout=120)
        return json.loads(out)

    def test_release_with_bursts_queued(self):
        timed = not os.environ.get('CAMERAD_WRAPPER')
        image_path = self.manager.GetImageProcessSession()
        image_session = self.iface(image_path, 'ImageProcessSession')
        # Keep the images pending: only the store backlog is under test, not the merge.
        image_session.Interrupt()

        session, photo = self.start_photo_session(1920, 1080, 'YUYV')
        time.sleep(1.5)  # the ring fills (16 frames at 30 fps), with margin
        # What this machine gives without a Release: the same probe for as long.
        probe = self.start_probe(image_path)
        camerad_test.pump(PROBE_AFTER_S)
        baseline = self.stop_probe(probe)

        replies, errors = [], []
        settings = dbus.Dictionary({'burst': dbus.UInt32(BURST)}, signature='sv')
        for _ in range(N_CAPTURES):
            photo.Capture(settings, reply_handler=lambda i: replies.append(str(i)),
                          error_handler=lambda e: errors.append(e), timeout=self.call_timeout())
        # Every call reaches the daemon (it answers GetConcurrency only after reading the
        # Captures sent before it on this connection).
        image_session.GetConcurrency('balanced')

        probe = self.start_probe(image_path)
        camerad_test.pump(0.2)  # the probe's steady state before the Release
        queued = N_CAPTURES - len(replies) - len(errors)

        removed = self.signals('org.freedesktop.DBus.ObjectManager', member='InterfacesRemoved')
        session_path = str(session.object_path)
        release = {}
        t0 = time.monotonic()
        session.Release(reply_handler=lambda: release.setdefault('at', time.monotonic()),
                        error_handler=lambda e: release.setdefault('error', e),
                        timeout=self.call_timeout())
        def done():
            gone = any(str(args[0]) == session_path for _, _, args in removed.signals)
            return release and gone and time.monotonic()
        gone_at = camerad_test.wait_until(done, self.call_timeout(), interval=0.001)
        reply_s = release.get('at', time.monotonic()) - t0
        release_s = gone_at - t0
        answered_at_release = len(replies) + len(errors)
        # The probe goes on while the backlog is being stored and answered.
        camerad_test.pump(PROBE_AFTER_S)
        latencies = self.stop_probe(probe)
        answered_at_probe_end = len(replies) + len(errors)

        camerad_test.wait_until(lambda: len(replies) + len(errors) == N_CAPTURES,
                                self.call_timeout(), interval=0.05)
        total_s = time.monotonic() - t0

        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        base_p99 = percentile(baseline, 0.99)
        print(f'\nRelease with {queued} of {N_CAPTURES} 1080p burst-{BURST} Captures queued: '
              f'answered in {reply_s * 1000:.1f} ms, session gone in {release_s * 1000:.1f} ms '
              f'({answered_at_release} Captures answered by then, {answered_at_probe_end} when the '
              f'probe stopped); all Captures answered {total_s:.1f} s after the Release\n'
              f'  other client, GetConcurrency every {PROBE_PERIOD_S * 1000:.0f} ms: '
              f'{len(latencies)} calls, p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, '
              f'max {max(latencies) * 1000:.2f} ms; before the Release (session running, no '
              f'Capture): p99 {base_p99 * 1000:.2f} ms', file=sys.stderr)

        self.assertNotIn('error', release, 'Release failed')
        self.assertGreaterEqual(queued, N_CAPTURES // 2,
                                'the bursts were stored before the Release; nothing was queued')
        self.assertEqual(errors, [], 'a Capture queued at Release was refused')
        self.assertEqual(len(set(replies)), N_CAPTURES)
        pending = [str(i) for i in image_session.GetPendingImages()]
        self.assertEqual(sorted(pending), sorted(replies), 'an image queued at Release is lost')
        if timed:
            self.assertLess(release_s, RELEASE_BOUND_S, 'Release waited for the store')
            if self.daemon.sanitized:
                self.skipTest(f'sanitizer build: the 10 ms p99 is judged in the plain build '
                              f'(seen here: {p99 * 1000:.1f} ms)')
            if base_p99 > BASELINE_P99_MAX_S:
                self.skipTest(f'the machine is too busy to judge 10 ms: without a Release the '
                              f'probe already sees a p99 of {base_p99 * 1000:.1f} ms')
            self.assertLessEqual(p99, PROBE_P99_BOUND_S,
                                 'other clients wait while a Release is answered')


if __name__ == '__main__':
    camerad_test.main()
