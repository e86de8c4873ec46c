/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "capture/camera-controls-private.h"
#include "capture/v4l2-device.h"
#include "shared/log.h"
#include "shared/macro.h"

/* V4L2 controls: VIDIOC_QUERY_EXT_CTRL walks them (NEXT_CTRL leaves compound ones out),
 * VIDIOC_QUERYMENU names menu items, VIDIOC_G/TRY/S_EXT_CTRLS read and set them, and
 * V4L2_EVENT_CTRL tells of changes made elsewhere while we stream. Control ioctls are
 * quick (no waiting for frames), so they run on the caller's (the loop's) thread. */

#define MAX_MENU_ITEMS 256u

static int xioctl(const struct v4l2_ops *ops, int fd, unsigned long request, void *arg) {
        int r;
        do
                r = ops->ioctl(fd, request, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? negative_errno() : r;
}

static int open_controls(struct v4l2_camera *c) {
        const struct v4l2_ops *o = c->ops;
        int fd = o->open_controls ? o->open_controls(c->devnode)
               : o->open_native   ? o->open_native(c->devnode)
                                  : o->open(c->devnode);
        return fd < 0 ? negative_errno() : fd;
}

/* The watcher's node while streaming, else one opened for this call (*opened). */
static int control_fd(struct v4l2_camera *c, bool *opened) {
        *opened = c->ctrl_fd < 0;
        return *opened ? open_controls(c) : c->ctrl_fd;
}

static void done_fd(struct v4l2_camera *c, int fd, bool opened) {
        if (opened && fd >= 0)
                c->ops->close(fd);
}

static bool expressible(const struct v4l2_query_ext_ctrl *q) {
        if (q->flags & (V4L2_CTRL_FLAG_DISABLED | V4L2_CTRL_FLAG_WRITE_ONLY | V4L2_CTRL_FLAG_HAS_PAYLOAD))
                return false;
        return q->type == V4L2_CTRL_TYPE_INTEGER || q->type == V4L2_CTRL_TYPE_BOOLEAN ||
               q->type == V4L2_CTRL_TYPE_MENU || q->type == V4L2_CTRL_TYPE_INTEGER_MENU ||
               q->type == V4L2_CTRL_TYPE_INTEGER64;
}

static int read_value(struct v4l2_camera *c, int fd, uint32_t id, uint32_t type, int64_t *ret) {
        struct v4l2_ext_control ctrl = { .id = id };
        struct v4l2_ext_controls ec = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1, .controls = &ctrl };
        int r = xioctl(c->ops, fd, VIDIOC_G_EXT_CTRLS, &ec);
        if (r < 0)
                return r;
        *ret = type == V4L2_CTRL_TYPE_INTEGER64 ? ctrl.value64 : ctrl.value;
        return 0;
}

static int add_menu(struct v4l2_camera *c, int fd, const struct v4l2_query_ext_ctrl *q,
                    struct camera_control *ctl) {
        for (int64_t i = MAX(q->minimum, 0); i <= q->maximum && i < (int64_t) MAX_MENU_ITEMS; i++) {
                struct v4l2_querymenu m = { .id = q->id, .index = (uint32_t) i };
                char name[sizeof m.name + 1] = {};

                if (xioctl(c->ops, fd, VIDIOC_QUERYMENU, &m) < 0)
                        continue; /* a hole (skipped item) */
                if (q->type == V4L2_CTRL_TYPE_INTEGER_MENU)
                        snprintf(name, sizeof name, "%" PRId64, (int64_t) m.value);
                else
                        memcpy(name, m.name, sizeof m.name);
                int r = camera_control_add_menu_item(ctl, i, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v4l2_controls_query_fd(struct v4l2_camera *c, int fd, struct camera_control_list *l) {
        uint32_t id = V4L2_CTRL_FLAG_NEXT_CTRL;

        for (unsigned guard = 0; guard < 4096; guard++) {
                struct v4l2_query_ext_ctrl q = { .id = id };
                char name[sizeof q.name + 1] = {};
                int r = xioctl(c->ops, fd, VIDIOC_QUERY_EXT_CTRL, &q);
                if (r == -EINVAL || r == -ENOTTY)
                        return 0; /* past the last one, or no controls at all */
                if (r < 0)
                        return r;
                id = q.id | V4L2_CTRL_FLAG_NEXT_CTRL;
                if (!expressible(&q))
                        continue;

                memcpy(name, q.name, sizeof q.name);
                struct camera_control *ctl = camera_control_list_add(l, q.id, name);
                if (!ctl)
                        return -ENOMEM;
                bool menu = q.type == V4L2_CTRL_TYPE_MENU || q.type == V4L2_CTRL_TYPE_INTEGER_MENU;
                ctl->type = menu ? CAMERA_CONTROL_MENU
                          : q.type == V4L2_CTRL_TYPE_BOOLEAN ? CAMERA_CONTROL_BOOLEAN : CAMERA_CONTROL_INTEGER;
                ctl->min = q.minimum;
                ctl->max = q.maximum;
                ctl->step = menu ? 1 : (int64_t) MAX(q.step, (uint64_t) 1);
                ctl->def = q.default_value;
                ctl->read_only = q.flags & V4L2_CTRL_FLAG_READ_ONLY;
                ctl->inactive = q.flags & V4L2_CTRL_FLAG_INACTIVE;
                if (read_value(c, fd, q.id, q.type, &ctl->value) < 0) {
                        log_debug("%s: reading %s failed; showing its default", c->devnode, ctl->name);
                        ctl->value = ctl->def;
                }
                if (menu) {
                        r = add_menu(c, fd, &q, ctl);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int v4l2_controls_query(struct camera_device *d, struct camera_control_list *l) {
        struct v4l2_camera *c = d->data;
        bool opened;
        int fd = control_fd(c, &opened);
        if (fd < 0)
                return fd;
        int r = v4l2_controls_query_fd(c, fd, l);
        done_fd(c, fd, opened);
        return r;
}

static int v4l2_controls_apply(struct camera_device *d, const struct camera_control_value *v, size_t n,
                               size_t *bad_index) {
        struct v4l2_camera *c = d->data;
        _cleanup_free_ struct v4l2_ext_control *ctrls = calloc(n, sizeof *ctrls);
        bool opened;
        int r;

        *bad_index = n;
        if (!ctrls)
                return -ENOMEM;
        int fd = control_fd(c, &opened);
        if (fd < 0)
                return fd;
        for (size_t i = 0; i < n; i++) {
                struct v4l2_query_ext_ctrl q = { .id = v[i].id };
                r = xioctl(c->ops, fd, VIDIOC_QUERY_EXT_CTRL, &q);
                if (r < 0) {
                        *bad_index = i;
                        goto done;
                }
                ctrls[i].id = v[i].id;
                if (q.type == V4L2_CTRL_TYPE_INTEGER64)
                        ctrls[i].value64 = v[i].value;
                else
                        ctrls[i].value = (int32_t) v[i].value;
        }

        /* All or nothing: the driver checks the whole set before anything changes. */
        for (int pass = 0; pass < 2; pass++) {
                struct v4l2_ext_controls ec = {
                        .which = V4L2_CTRL_WHICH_CUR_VAL, .count = (uint32_t) n, .controls = ctrls,
                };
                r = xioctl(c->ops, fd, pass == 0 ? VIDIOC_TRY_EXT_CTRLS : VIDIOC_S_EXT_CTRLS, &ec);
                if (r < 0) {
                        *bad_index = ec.error_idx < n ? ec.error_idx : n;
                        log_debug_errno(r, "%s: %s failed: %m", c->devnode,
                                        pass == 0 ? "TRY_EXT_CTRLS" : "S_EXT_CTRLS");
                        goto done;
                }
        }
        r = 0;
done:
        done_fd(c, fd, opened);
        return r;
}

/* The watcher: control events of our node until unwatch wakes it or the node goes. */
static void *watch_thread(void *userdata) {
        struct camera_device *d = userdata;
        struct v4l2_camera *c = d->data;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = c->ctrl_fd, .events = POLLPRI },
                        { .fd = c->ctrl_wake_fd, .events = POLLIN },
                };
                int n = c->ops->poll(p, 2, V4L2_POLL_TIMEOUT_MS);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0 || p[1].revents)
                        return NULL;
                /* An unregistered (unplugged) node polls ERR|HUP|PRI at once, for good:
                 * leave, the capture thread reports it. */
                if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return NULL;
                if (!(p[0].revents & POLLPRI))
                        continue;

                bool changed = false;
                struct v4l2_event ev;
                while (memset(&ev, 0, sizeof ev), xioctl(c->ops, c->ctrl_fd, VIDIOC_DQEVENT, &ev) >= 0)
                        if (ev.type == V4L2_EVENT_CTRL &&
                            ev.u.ctrl.changes & (V4L2_EVENT_CTRL_CH_VALUE | V4L2_EVENT_CTRL_CH_FLAGS))
                                changed = true;
                if (changed)
                        camera_controls_notify(d);
        }
}

static void v4l2_controls_watch(struct camera_device *d) {
        struct v4l2_camera *c = d->data;
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        int r;

        assert(c->ctrl_fd < 0 && !c->ctrl_watching);
        r = open_controls(c);
        if (r < 0)
                goto fail;
        c->ctrl_fd = r;
        r = v4l2_controls_query_fd(c, c->ctrl_fd, &l);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                struct v4l2_event_subscription sub = { .type = V4L2_EVENT_CTRL, .id = l.items[i].id };
                r = xioctl(c->ops, c->ctrl_fd, VIDIOC_SUBSCRIBE_EVENT, &sub);
        }
        if (r < 0 || l.n == 0)
                goto fail;
        c->ctrl_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->ctrl_wake_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        r = -pthread_create(&c->ctrl_thread, NULL, watch_thread, d);
        if (r < 0)
                goto fail;
        c->ctrl_watching = true;
        return;

fail:
        /* Not fatal: controls still work, only changes made elsewhere go unseen. */
        if (r < 0)
                log_debug_errno(r, "%s: not watching control events: %m", c->devnode);
        c->ctrl_wake_fd = safe_close(c->ctrl_wake_fd);
        if (c->ctrl_fd >= 0)
                c->ops->close(c->ctrl_fd);
        c->ctrl_fd = -1;
}

static void v4l2_controls_unwatch(struct camera_device *d) {
        struct v4l2_camera *c = d->data;
        uint64_t one = 1;

        if (!c->ctrl_watching)
                return;
        if (write(c->ctrl_wake_fd, &one, sizeof one) < 0)
                log_warning_errno(negative_errno(), "Waking the control watcher failed: %m");
        pthread_join(c->ctrl_thread, NULL);
        c->ctrl_watching = false;
        c->ctrl_wake_fd = safe_close(c->ctrl_wake_fd);
        c->ops->close(c->ctrl_fd);
        c->ctrl_fd = -1;
}

const struct camera_controls_backend v4l2_controls_backend = {
        .query = v4l2_controls_query,
        .apply = v4l2_controls_apply,
        .watch = v4l2_controls_watch,
        .unwatch = v4l2_controls_unwatch,
};
