/* SPDX-License-Identifier: MIT */
/* camera_device_deliver() with MJPEG when pixels stop being needed (the last preview leaves a
 * shared camera that is still recording): frames still in the decode stage come out first,
 * so outputs see the camera's order and a recorder (which skips late timestamps) loses none. */
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "capture/camera-device-private.h"
#include "media/jpeg.h"
#include "test-util.h"

#define W 64
#define H 48

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, decoder_waiting;
static uint64_t order[8];
static unsigned n_seen;

/* Decoded frames wait at the gate, as a slow output would hold the decode thread. */
static void on_frame(struct frame *f, void *userdata) {
        pthread_mutex_lock(&lock);
        if (f->fourcc != V4L2_PIX_FMT_MJPEG) {
                decoder_waiting = true;
                pthread_cond_broadcast(&cond);
                while (!gate_open)
                        pthread_cond_wait(&cond, &lock);
        }
        check(n_seen < 8);
        order[n_seen++] = f->sequence;
        pthread_mutex_unlock(&lock);
}

static struct frame *camera_frame(const struct jpeg_buffer *j, uint64_t sequence) {
        struct frame *f = frame_new(V4L2_PIX_FMT_MJPEG, W, H);
        check(f && j->size <= f->size);
        memcpy(f->data, j->data, j->size);
        f->size = j->size;
        f->sequence = sequence;
        f->timestamp_us = 1000000 + sequence * 33333;
        return f;
}

int main(void) {
        const struct capture_format fmt = { .fourcc = V4L2_PIX_FMT_MJPEG, .width = W, .height = H, .max_fps = 30 };
        struct camera_device *d = calloc(1, sizeof *d);
        struct jpeg_encoder *e = NULL;
        struct jpeg_buffer j = {};
        uint8_t *yuyv = malloc((size_t) W * H * 2);

        check(d && yuyv);
        memset(yuyv, 128, (size_t) W * H * 2);
        check_ok(jpeg_encoder_new(&e));
        check_ok(jpeg_encode_yuyv(e, yuyv, W, H, W * 2, 85, &j));
        d->info.id = (char *) "test";
        d->on_frame = on_frame;
        check_ok(camera_device_mjpeg_start(d, &fmt));

        camera_device_set_needs_pixels(d, true);
        for (uint64_t i = 0; i < 2; i++) {
                struct frame *f = camera_frame(&j, i);
                camera_device_deliver(d, f);
                frame_unref(f);
        }
        pthread_mutex_lock(&lock);
        while (!decoder_waiting)
                pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);

        /* Frame 0 is at an output, frame 1 queued: frame 2 must not overtake them. */
        camera_device_set_needs_pixels(d, false);
        struct frame *f = camera_frame(&j, 2);
        camera_device_deliver(d, f);
        frame_unref(f);

        pthread_mutex_lock(&lock);
        gate_open = true;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        mjpeg_decode_stage_drain(d->decode);

        /* Nothing left in the stage: frames go out undecoded again. */
        f = camera_frame(&j, 3);
        camera_device_deliver(d, f);
        frame_unref(f);

        camera_device_mjpeg_stop(d);
        check(n_seen == 4);
        for (unsigned i = 0; i < 4; i++)
                check(order[i] == i);

        free(d);
        free(yuyv);
        jpeg_buffer_done(&j);
        jpeg_encoder_free(e);
        return 0;
}
