/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/v4l2-ops.h"

/* A scripted fake V4L2 device behind the ops table. */

#define FAKE_FD 1000
#define FAKE_CTRL_FD 1001 /* the node opened through open_controls */
#define FAKE_W 640
#define FAKE_H 480
#define FAKE_PAD 64 /* row padding, so the engine must repack rows */

enum action {
        ACT_FRAME,        /* poll: POLLIN; DQBUF: a filled buffer */
        ACT_POLL_EINTR,   /* poll fails with EINTR */
        ACT_DQBUF_EINTR,  /* poll: POLLIN; DQBUF: EINTR once, then a buffer */
        ACT_DQBUF_EAGAIN, /* poll: POLLIN; DQBUF: EAGAIN */
        ACT_DQBUF_ENODEV, /* poll: POLLIN; DQBUF: ENODEV */
        ACT_POLLERR,      /* poll: POLLERR|POLLHUP */
        ACT_ERROR_BUFFER, /* poll: POLLIN; DQBUF: a buffer flagged V4L2_BUF_FLAG_ERROR */
        /* MJPG streams play the JPEGs of fake_set_jpegs() in turn (bytesused = its size). */
        ACT_MJPEG_TRUNCATED, /* the next JPEG cut in half (no EOI) */
        ACT_MJPEG_CORRUPT,   /* the next JPEG with a marker in its entropy data */
        ACT_MJPEG_PADDED,    /* the next JPEG followed by zero bytes (bytesused counts them) */
        ACT_MJPEG_EMPTY,     /* bytesused 0 */
        ACT_MJPEG_OVERLONG,  /* the next JPEG with bytesused past the buffer's length */
};

struct fake {
        pthread_mutex_t lock;
        /* device description */
        uint32_t caps;
        bool nv12_native, nv12_emulated, yuyv;
        bool mjpeg, yu12_native, yu12_emulated, uyvy_native;
        const uint8_t *jpegs[8];
        size_t jpeg_sizes[8];
        unsigned n_jpegs, next_jpeg;
        int native_opens, converted_opens;
        unsigned reqbufs_count;
        int streamon_error;
        /* script */
        enum action script[64];
        unsigned n_script, next;
        bool dqbuf_eintr_pending;
        enum action current;
        /* state */
        int open_count;
        unsigned n_buffers, n_mapped;
        void *maps[8];
        size_t buf_len;
        int queue[8];
        unsigned n_queued;
        bool streaming;
        unsigned frames_made;
        uint32_t fmt_fourcc;
        int reqbufs_zero_calls;
        /* controls (fake-v4l2-controls.c) */
        bool ctrl_fd_open;
        int control_opens;
        unsigned ctrl_try_calls, ctrl_set_calls, ctrl_subscriptions;
        uint32_t ctrl_fail_id;  /* TRY and S of this control fail with ctrl_fail_errno */
        int ctrl_fail_errno;    /* 0 = EINVAL */
        bool ctrl_hangup;       /* the control node polls as unplugged: ERR|HUP|PRI */
        unsigned ctrl_polls;
};

extern struct fake fake;

/* Back to a streaming capture device with YUYV (native), MJPG (native, but no JPEGs set)
 * and NV12 (emulated). */
void fake_reset(void);
/* The actions the next polls play, in order. */
void fake_script(const enum action *a, unsigned n);

/* The JPEGs an MJPG stream plays, in turn (borrowed; FAKE_W x FAKE_H). */
void fake_set_jpegs(const uint8_t *const *jpegs, const size_t *sizes, unsigned n);

/* Bytes per line the fake reports for a raw fourcc (padded). */
unsigned fake_bpl(uint32_t fourcc);

extern const struct v4l2_ops fake_ops;

/* Controls: the table back at its defaults (fake_reset() calls it). */
void fake_controls_reset(void);
/* With fake.lock held: handles the control ioctls (true, result in *ret). */
bool fake_controls_ioctl(int fd, unsigned long request, void *arg, int *ret);
void fake_controls_closed(void);
bool fake_controls_event_pending(void);
/* Another program sets a control: events go to the subscribed node. */
void fake_control_set_external(uint32_t id, int64_t value);
int64_t fake_control_value(uint32_t id);
