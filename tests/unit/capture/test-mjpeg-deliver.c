/* SPDX-License-Identifier: MIT */
/* camera_device_deliver() with MJPEG while the decoder is held up and when pixels stop being
 * needed (the last preview leaves a shared camera that is still recording): a recorder (the
 * compressed consumer) gets every camera frame at once and in the camera's order, whatever
 * the decode stage holds; the preview (the pixel consumer) gets the decoded ones in order. */
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
static uint64_t recorded[8], previewed[8];
static unsigned n_recorded, n_previewed, n_decoded_to_recorder;

/* Two consumers, each taking what camera_frame_is_for() names. Decoded frames wait at the
 * gate, as a slow preview would hold the decode thread. */
static void on_frame(struct frame *f, void *userdata) {
        pthread_mutex_lock(&lock);
        if (camera_frame_is_for(f, false)) {
                check(n_recorded < 8);
                n_decoded_to_recorder += f->compressed != NULL;
                recorded[n_recorded++] = f->sequence;
        }
        if (camera_frame_is_for(f, true)) {
                decoder_waiting = true;
                pthread_cond_broadcast(&cond);
                while (!gate_open)
                        pthread_cond_wait(&cond, &lock);
                check(n_previewed < 8 && f->compressed && f->compressed->sequence == f->sequence);
                previewed[n_previewed++] = f->sequence;
        }
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

        /* Frame 0 is at the preview, frame 1 queued: the recorder has both already, and
         * frame 2 reaches it now, while the decoder is still held. */
        camera_device_set_needs_pixels(d, false);
        struct frame *f = camera_frame(&j, 2);
        camera_device_deliver(d, f);
        frame_unref(f);
        pthread_mutex_lock(&lock);
        check(n_recorded == 3 && n_previewed == 0);
        gate_open = true;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        mjpeg_decode_stage_drain(d->decode);

        f = camera_frame(&j, 3);
        camera_device_deliver(d, f);
        frame_unref(f);

        camera_device_mjpeg_stop(d);
        check(n_recorded == 4 && n_decoded_to_recorder == 0);
        for (unsigned i = 0; i < 4; i++)
                check(recorded[i] == i);
        check(n_previewed == 2 && previewed[0] == 0 && previewed[1] == 1);

        free(d);
        free(yuyv);
        jpeg_buffer_done(&j);
        jpeg_encoder_free(e);
        return 0;
}
