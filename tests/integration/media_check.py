# SPDX-License-Identifier: MIT
"""Checks of what camerad produces: JPEG decoding with djpeg, AVI with ffprobe, and
input AVIs made by ffmpeg. Part of the harness; import it through camerad_test."""

import json
import os
import subprocess

import dbus


def djpeg_decodes(data):
    """(ok, width, height) of JPEG bytes decoded by djpeg (to PNM)."""
    r = subprocess.run(['djpeg', '-pnm'], input=data, capture_output=True)
    if r.returncode != 0 or not r.stdout.startswith((b'P5', b'P6')):
        return False, 0, 0
    fields = r.stdout.split(maxsplit=3)
    return True, int(fields[1]), int(fields[2])


def read_fd(fd):
    """Everything from offset 0 of fd (a dbus UnixFd or int), closing it."""
    if isinstance(fd, dbus.types.UnixFd):
        fd = fd.take()
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                return b''.join(chunks)
            chunks.append(b)
    finally:
        os.close(fd)


def make_mjpeg_avi(path, frames=30, size='320x240', rate=15):
    """A Motion-JPEG AVI made by ffmpeg from its test source."""
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
                    f'testsrc=size={size}:rate={rate}', '-frames:v', str(frames),
                    '-c:v', 'mjpeg', '-q:v', '5', '-f', 'avi', path], check=True)
    return path


def ffprobe_frames(path):
    """(codec, width, height, frame count) of the first video stream, counted by
    decoding; raises when ffprobe cannot read the file."""
    r = subprocess.run(['ffprobe', '-v', 'error', '-count_frames', '-select_streams', 'v:0',
                        '-show_entries', 'stream=codec_name,width,height,nb_read_frames',
                        '-of', 'json', path], capture_output=True, text=True, check=True)
    s = json.loads(r.stdout)['streams'][0]
    return s['codec_name'], int(s['width']), int(s['height']), int(s['nb_read_frames'])
