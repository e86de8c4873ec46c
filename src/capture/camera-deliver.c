/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <linux/videodev2.h>
#include <stdlib.h>
#include <time.h>

#include "capture/camera-device-private.h"
#include "media/jpeg-markers.h"
#include "media/jpeg.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Frame delivery, and the MJPEG part of it: every camera JPEG is checked on the capture
 * thread (cheap: markers and the header) so a truncated or damaged frame never reaches an
 * output, and is always delivered as it came, there and then: what takes compressed frames
 * (a recording) gets every frame, however busy the decoder is. Only while some output needs
 * pixels is it also decoded on the decode stage's thread, which delivers the decoded frame
 * for the pixel outputs; a full decode queue costs them that frame, nothing else. */

static void deliver_decoded(struct frame *f, void *userdata) {
        struct camera_device *d = userdata;
        assert(f->compressed); /* what keeps it from the compressed consumers */
        d->on_frame(f, d->userdata);
        if (d->decode_test_delay_ms > 0) { /* holds the decode thread, so its queue fills */
                unsigned ms = d->decode_test_delay_ms;
                (void) nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 },
                                 NULL);
        }
}

/* Capture thread: whether f is a whole JPEG of the stream's size. */
static bool mjpeg_frame_ok(struct camera_device *d, struct frame *f) {
        struct jpeg_info info;
        long n = jpeg_frame_length(f->data, f->size);

        if (n < 0) {
                log_debug("%s: MJPEG frame %llu dropped: no SOI/EOI (truncated?)", d->info.id,
                          (unsigned long long) f->sequence);
                return false;
        }
        f->size = (size_t) n;
        if (jpeg_read_info(d->checker, f->data, f->size, &info) < 0) {
                log_debug("%s: MJPEG frame %llu dropped: %s", d->info.id, (unsigned long long) f->sequence,
                          jpeg_decoder_error(d->checker));
                return false;
        }
        if (info.width != f->width || info.height != f->height) {
                log_debug("%s: MJPEG frame %llu dropped: %ux%u in a %ux%u stream", d->info.id,
                          (unsigned long long) f->sequence, info.width, info.height, f->width, f->height);
                return false;
        }
        return true;
}

void camera_device_deliver(struct camera_device *d, struct frame *f) {
        if (f->fourcc == V4L2_PIX_FMT_MJPEG) {
                assert(d->checker && d->decode);
                if (!mjpeg_frame_ok(d, f)) {
                        atomic_fetch_add_explicit(&d->corrupt, 1, memory_order_relaxed);
                        return;
                }
                /* Queued first, so decoding overlaps the outputs' work below. */
                if (atomic_load_explicit(&d->needs_pixels, memory_order_relaxed))
                        (void) mjpeg_decode_stage_push(d->decode, f); /* a drop is counted there */
        }
        atomic_fetch_add_explicit(&d->delivered, 1, memory_order_relaxed);
        d->on_frame(f, d->userdata);
}

int camera_device_mjpeg_start(struct camera_device *d, const struct capture_format *fmt) {
        int r;

        d->decode_stats = (struct mjpeg_decode_stats) {};
        if (fmt->fourcc != V4L2_PIX_FMT_MJPEG)
                return 0;
        const char *delay = getenv("CAMERAD_TEST_DECODE_DELAY_MS");
        d->decode_test_delay_ms = delay ? (unsigned) MIN(strtoul(delay, NULL, 10), 10000ul) : 0;
        r = jpeg_decoder_new(&d->checker);
        if (r < 0)
                return r;
        r = mjpeg_decode_stage_new(fmt->width, fmt->height, 0, deliver_decoded, d, &d->decode);
        if (r < 0) {
                d->checker = jpeg_decoder_free(d->checker);
                return r;
        }
        return 0;
}

/* After the backend's thread is gone: nothing pushes any more. */
void camera_device_mjpeg_stop(struct camera_device *d) {
        if (d->decode) {
                mjpeg_decode_stage_stop(d->decode);
                mjpeg_decode_stage_stats(d->decode, &d->decode_stats);
                d->decode = mjpeg_decode_stage_free(d->decode);
        }
        d->checker = jpeg_decoder_free(d->checker);
}

void camera_device_set_needs_pixels(struct camera_device *d, bool needs) {
        atomic_store(&d->needs_pixels, needs);
}

void camera_device_get_stats(struct camera_device *d, struct camera_stats *ret) {
        struct mjpeg_decode_stats ds = d->decode_stats;

        /* Only the loop thread starts and stops streams, and only it asks. */
        if (d->decode)
                mjpeg_decode_stage_stats(d->decode, &ds);
        *ret = (struct camera_stats) {
                .delivered = atomic_load(&d->delivered),
                .corrupt = atomic_load(&d->corrupt) + ds.corrupt,
                .decode_dropped = ds.dropped,
                .decoded = ds.decoded,
                .decode_cpu_ns = ds.decode_cpu_ns,
        };
}
