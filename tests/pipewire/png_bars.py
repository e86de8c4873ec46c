# SPDX-License-Identifier: MIT
"""PNG decoding (stdlib zlib only) and the check that a picture shows the virtual
camera's colour bars (src/capture/virtual-sensor.c: eight 75% bars, BT.601 limited range,
scrolling left, over the top two thirds; the moving disc never reaches the top eighth)."""

import struct
import zlib

# The sensor's bars as Y, Cb, Cr, in their left-to-right order.
BARS_YCBCR = [(180, 128, 128), (162, 44, 142), (131, 156, 44), (112, 72, 58),
              (84, 184, 198), (65, 100, 212), (35, 212, 114), (16, 128, 128)]
BAR_NAMES = ['white', 'yellow', 'cyan', 'green', 'magenta', 'red', 'blue', 'black']


def _rgb(y, cb, cr):
    # BT.601 limited range; a converter using BT.709 lands near enough for the nearest match.
    c, d, e = y - 16, cb - 128, cr - 128
    clamp = lambda v: max(0, min(255, round(v)))  # noqa: E731
    return (clamp(1.164 * c + 1.596 * e), clamp(1.164 * c - 0.392 * d - 0.813 * e),
            clamp(1.164 * c + 2.017 * d))


BARS_RGB = [_rgb(*c) for c in BARS_YCBCR]


def read_png(path, fraction=1.0):
    """(width, height, rows) with rows a list of bytes, RGB, 8 bits per channel; only the
    top `fraction` of the rows are unfiltered (each row needs only the one above)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError(f'{path}: not a PNG')
    pos, idat, ihdr = 8, b'', None
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b'IHDR':
            ihdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat += body
        elif kind == b'IEND':
            break
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError(f'{path}: PNG depth {depth} colour type {colour} interlace '
                         f'{interlace}; want 8-bit RGB(A), not interlaced')
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(min(height, int(height * fraction) + 1)):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line) if bpp == 3 else
                    bytes(v for i, v in enumerate(line) if i % 4 != 3))
        prev = line
    return width, height, rows


def bar_runs(path):
    """The top band's columns (averaged over its rows), each matched to the nearest bar
    colour, as runs [(bar index, first column, width)]."""
    width, height, rows = read_png(path, fraction=1 / 8)
    top, bottom = 2, height // 8 - 2
    runs = []
    for x in range(width):
        avg = [sum(rows[y][3 * x + k] for y in range(top, bottom)) / (bottom - top)
               for k in range(3)]
        best = min(range(8), key=lambda i: sum((avg[k] - BARS_RGB[i][k]) ** 2
                                               for k in range(3)))
        if runs and runs[-1][0] == best:
            runs[-1][2] += 1
        else:
            runs.append([best, x, 1])
    return width, runs


def check_bars(path):
    """None when the picture's top band is the scrolling bars, else what is wrong: every
    run but the two cut by the edges is one bar wide (width/8, a few pixels of
    chroma-siting slack), and the bars follow each other in the sensor's order."""
    width, runs = bar_runs(path)
    bar = width / 8
    # Runs of a pixel or two at a bar edge come from chroma subsampling; merge them away.
    solid = [r for r in runs if r[2] > 3]
    if len(solid) < 8:
        return f'{len(solid)} bars seen, want 8 or 9: {runs}'
    for prev, cur in zip(solid, solid[1:]):
        if cur[0] != (prev[0] + 1) % 8:
            return (f'{BAR_NAMES[cur[0]]} follows {BAR_NAMES[prev[0]]} at x={cur[1]}: '
                    f'not the bars order: {solid}')
    for r in solid[1:-1]:
        if abs(r[2] - bar) > 4:
            return f'{BAR_NAMES[r[0]]} bar at x={r[1]} is {r[2]} px wide, want {bar:.0f}'
    return None
