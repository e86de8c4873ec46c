/* SPDX-License-Identifier: MIT */
/* A camera's MJPEG bytes, as they come out of a driver buffer: the marker functions
 * (frame length, DHT has/strip/insert, the photo proxy) and the capture thread's frame check
 * followed by the decode stage, on arbitrary data. Checks what each function promises. */
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>

#include "capture/camera-device-private.h"
#include "capture/frame.h"
#include "media/jpeg-markers.h"
#include "shared/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The stream size of the fake camera; seed frames of this size get through to the decoder. */
#define FUZZ_WIDTH 64
#define FUZZ_HEIGHT 48

static unsigned long long decoded;

static void on_frame(struct frame *f, void *userdata) {
        /* What outputs rely on: a camera JPEG, or a decoded frame that keeps its source. */
        if (f->width != FUZZ_WIDTH || f->height != FUZZ_HEIGHT)
                abort();
        if (f->fourcc == V4L2_PIX_FMT_MJPEG)
                return;
        if (!f->compressed || f->compressed->fourcc != V4L2_PIX_FMT_MJPEG ||
            jpeg_frame_length(f->compressed->data, f->compressed->size) != (long) f->compressed->size)
                abort();
        decoded++;
}

/* One fake MJPEG camera for the whole run: its checker and decode stage as a stream has them. */
static struct camera_device *camera(void) {
        static struct camera_device *d;

        if (!d) {
                const struct capture_format fmt = {
                        .fourcc = V4L2_PIX_FMT_MJPEG, .width = FUZZ_WIDTH, .height = FUZZ_HEIGHT, .max_fps = 30,
                };
                d = calloc(1, sizeof *d);
                if (!d)
                        abort();
                d->info.id = (char *) "fuzz";
                d->on_frame = on_frame;
                if (camera_device_mjpeg_start(d, &fmt) < 0)
                        abort();
                atomic_store(&d->needs_pixels, true);
        }
        return d;
}

static void check_frame_path(const uint8_t *data, size_t size, bool needs_pixels) {
        struct camera_device *d = camera();
        struct frame *f = frame_new(V4L2_PIX_FMT_MJPEG, FUZZ_WIDTH, FUZZ_HEIGHT);

        if (!f)
                abort();
        /* As the V4L2 backend copies bytesused, which it caps at the frame's capacity. */
        size = MIN(size, f->size);
        memcpy(f->data, data, size);
        f->size = size;
        atomic_store(&d->needs_pixels, needs_pixels);
        camera_device_deliver(d, f);
        if (f->size > size)
                abort();
        frame_unref(f);
        mjpeg_decode_stage_drain(d->decode);
}

static void check_markers(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *stripped = malloc(size ?: 1), *with = NULL, *proxy = NULL;
        _cleanup_free_ uint8_t *restripped = NULL;
        size_t with_size = 0, proxy_size = 0;
        long n = jpeg_frame_length(data, size);
        bool has = jpeg_has_dht(data, size);
        int r;

        if (!stripped)
                abort();
        if (n >= 0 && (n < 4 || (size_t) n > size))
                abort();

        long s = jpeg_strip_dht(data, size, stripped);
        if (s >= 0 && ((size_t) s > size || jpeg_has_dht(stripped, (size_t) s) ||
                       (!has && ((size_t) s != size || memcmp(stripped, data, size) != 0))))
                abort();

        r = jpeg_insert_dht(data, size, &with, &with_size);
        if (r == 0) {
                if (!jpeg_has_dht(with, with_size) || with_size < size)
                        abort();
                /* Inserting then stripping gives what stripping alone gives. */
                restripped = malloc(with_size);
                if (!restripped)
                        abort();
                long s2 = jpeg_strip_dht(with, with_size, restripped);
                if (s < 0 || s2 != s || memcmp(restripped, stripped, (size_t) s) != 0)
                        abort();
        } else if (r != -EBADMSG && r != -ENOMEM)
                abort();

        const struct exif_fields fields = {
                .make = "camerad", .model = "fuzz", .datetime_us = 1, .width = FUZZ_WIDTH,
                .height = FUZZ_HEIGHT, .orientation = 1,
        };
        r = jpeg_camera_proxy(data, size, &fields, &proxy, &proxy_size);
        if (r == 0 && !jpeg_has_dht(proxy, proxy_size))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_markers(data, size);
        check_frame_path(data, size, false);
        check_frame_path(data, size, true);
        return 0;
}
