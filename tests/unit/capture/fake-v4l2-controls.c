/* SPDX-License-Identifier: MIT */
/* The fake device's controls: a UVC-like table (user and camera classes, auto clusters,
 * a menu with holes, an integer menu, read-only, write-only, button, string, compound and
 * disabled ones), the extended control ioctls and control events. Called with fake.lock
 * held. */
/* Table rows leave trailing fields out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <errno.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <string.h>

#include "fake-v4l2.h"
#include "shared/macro.h"
#include "test-util.h"

#define FAKE_CID_ARRAY (V4L2_CID_USER_BASE + 0x1000)
#define FAKE_CID_NAME (V4L2_CID_USER_BASE + 0x1001)
#define FAKE_CID_OLD (V4L2_CID_USER_BASE + 0x1002)

struct fake_ctrl {
        uint32_t id;
        const char *name;
        uint32_t type;
        int64_t min, max, step, def;
        uint32_t flags;
        const char *menu[4];    /* NULL: a hole */
        int64_t int_menu[4];
};

static const struct fake_ctrl table[] = {
        { V4L2_CID_USER_CLASS, "User Controls", V4L2_CTRL_TYPE_CTRL_CLASS, 0, 0, 0, 0,
          V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_WRITE_ONLY },
        { V4L2_CID_BRIGHTNESS, "Brightness", V4L2_CTRL_TYPE_INTEGER, 0, 255, 1, 128 },
        { V4L2_CID_CONTRAST, "Contrast", V4L2_CTRL_TYPE_INTEGER, 0, 95, 1, 32 },
        { V4L2_CID_AUTO_WHITE_BALANCE, "White Balance, Automatic", V4L2_CTRL_TYPE_BOOLEAN, 0, 1, 1, 1 },
        { V4L2_CID_POWER_LINE_FREQUENCY, "Power Line Frequency", V4L2_CTRL_TYPE_MENU, 0, 2, 1, 1, 0,
          { "Disabled", "50 Hz", "60 Hz" } },
        { V4L2_CID_WHITE_BALANCE_TEMPERATURE, "White Balance Temperature", V4L2_CTRL_TYPE_INTEGER, 2800,
          6500, 10, 4600 },
        { FAKE_CID_ARRAY, "Test Array", V4L2_CTRL_TYPE_U8, 0, 255, 1, 0, V4L2_CTRL_FLAG_HAS_PAYLOAD },
        { FAKE_CID_NAME, "Device Name", V4L2_CTRL_TYPE_STRING, 0, 31, 1, 0 },
        { FAKE_CID_OLD, "Old Control", V4L2_CTRL_TYPE_INTEGER, 0, 1, 1, 0, V4L2_CTRL_FLAG_DISABLED },
        { V4L2_CID_CAMERA_CLASS, "Camera Controls", V4L2_CTRL_TYPE_CTRL_CLASS, 0, 0, 0, 0,
          V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_WRITE_ONLY },
        /* UVC style: only manual (1) and aperture priority (3) exist. */
        { V4L2_CID_EXPOSURE_AUTO, "Auto Exposure", V4L2_CTRL_TYPE_MENU, 0, 3, 1, 3, 0,
          { NULL, "Manual Mode", NULL, "Aperture Priority Mode" } },
        { V4L2_CID_EXPOSURE_ABSOLUTE, "Exposure Time, Absolute", V4L2_CTRL_TYPE_INTEGER, 3, 2047, 1, 250 },
        { V4L2_CID_PAN_RESET, "Pan, Reset", V4L2_CTRL_TYPE_BUTTON, 0, 0, 0, 0, V4L2_CTRL_FLAG_WRITE_ONLY },
        { V4L2_CID_FOCUS_ABSOLUTE, "Focus, Absolute", V4L2_CTRL_TYPE_INTEGER, 0, 250, 5, 0 },
        { V4L2_CID_FOCUS_RELATIVE, "Focus, Relative", V4L2_CTRL_TYPE_INTEGER, -127, 127, 1, 0,
          V4L2_CTRL_FLAG_WRITE_ONLY },
        { V4L2_CID_FOCUS_AUTO, "Focus, Automatic Continuous", V4L2_CTRL_TYPE_BOOLEAN, 0, 1, 1, 1 },
        { V4L2_CID_ZOOM_ABSOLUTE, "Zoom, Absolute", V4L2_CTRL_TYPE_INTEGER, 100, 500, 1, 100 },
        { V4L2_CID_LINK_FREQ, "Link Frequency", V4L2_CTRL_TYPE_INTEGER_MENU, 0, 2, 1, 0, 0, {},
          { 120000000, 240000000, 480000000 } },
        { V4L2_CID_PIXEL_RATE, "Pixel Rate", V4L2_CTRL_TYPE_INTEGER64, 1, INT64_C(10000000000), 1,
          96000000, V4L2_CTRL_FLAG_READ_ONLY },
};

#define N_CTRLS ELEMENTSOF(table)
#define MAX_EVENTS 64

static struct {
        int64_t value[N_CTRLS];
        bool subscribed[N_CTRLS];
        struct v4l2_event events[MAX_EVENTS];
        unsigned n_events;
} st;

void fake_controls_reset(void) {
        memset(&st, 0, sizeof st);
        for (size_t i = 0; i < N_CTRLS; i++)
                st.value[i] = table[i].def;
}

static int fail(int e) {
        errno = e;
        return -1;
}

static int find(uint32_t id) {
        for (size_t i = 0; i < N_CTRLS; i++)
                if (table[i].id == id)
                        return (int) i;
        return -1;
}

static int64_t value_of(uint32_t id) {
        return st.value[find(id)];
}

static bool compound(const struct fake_ctrl *c) {
        return c->flags & V4L2_CTRL_FLAG_HAS_PAYLOAD;
}

/* The auto clusters, as UVC reports them. */
static uint32_t flags_of(size_t i) {
        uint32_t f = table[i].flags;
        switch (table[i].id) {
        case V4L2_CID_WHITE_BALANCE_TEMPERATURE:
                return f | (value_of(V4L2_CID_AUTO_WHITE_BALANCE) ? V4L2_CTRL_FLAG_INACTIVE : 0);
        case V4L2_CID_EXPOSURE_ABSOLUTE:
                return f | (value_of(V4L2_CID_EXPOSURE_AUTO) != V4L2_EXPOSURE_MANUAL ? V4L2_CTRL_FLAG_INACTIVE : 0);
        case V4L2_CID_FOCUS_ABSOLUTE:
                return f | (value_of(V4L2_CID_FOCUS_AUTO) ? V4L2_CTRL_FLAG_INACTIVE : 0);
        default:
                return f;
        }
}

static int query_ext(struct v4l2_query_ext_ctrl *q) {
        uint32_t next = q->id & (V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND);
        uint32_t base = q->id & ~(V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND);
        int k = -1;

        if (next) {
                for (size_t i = 0; i < N_CTRLS; i++) {
                        bool wanted = compound(&table[i]) ? next & V4L2_CTRL_FLAG_NEXT_COMPOUND
                                                          : next & V4L2_CTRL_FLAG_NEXT_CTRL;
                        if (wanted && table[i].id > base && (k < 0 || table[i].id < table[k].id))
                                k = (int) i;
                }
        } else
                k = find(base);
        if (k < 0)
                return fail(EINVAL);
        const struct fake_ctrl *c = &table[k];
        memset(q, 0, sizeof *q);
        q->id = c->id;
        q->type = c->type;
        snprintf(q->name, sizeof q->name, "%s", c->name);
        q->minimum = c->min;
        q->maximum = c->max;
        q->step = (uint64_t) c->step;
        q->default_value = c->def;
        q->flags = flags_of((size_t) k);
        q->elem_size = 4;
        q->elems = 1;
        return 0;
}

static int query_menu(struct v4l2_querymenu *m) {
        int k = find(m->id);
        if (k < 0 || (table[k].type != V4L2_CTRL_TYPE_MENU && table[k].type != V4L2_CTRL_TYPE_INTEGER_MENU) ||
            m->index < table[k].min || m->index > table[k].max)
                return fail(EINVAL);
        if (table[k].type == V4L2_CTRL_TYPE_INTEGER_MENU) {
                m->value = table[k].int_menu[m->index];
                return 0;
        }
        if (!table[k].menu[m->index])
                return fail(EINVAL);
        snprintf((char *) m->name, sizeof m->name, "%s", table[k].menu[m->index]);
        return 0;
}

static void queue_event(size_t i, uint32_t changes) {
        if (!st.subscribed[i] || st.n_events >= MAX_EVENTS)
                return;
        struct v4l2_event *e = &st.events[st.n_events++];
        memset(e, 0, sizeof *e);
        e->type = V4L2_EVENT_CTRL;
        e->id = table[i].id;
        e->u.ctrl.changes = changes;
        e->u.ctrl.value64 = st.value[i];
        e->u.ctrl.flags = flags_of(i);
}

/* Sets the values and queues events on the watcher's node, unless it made the change
 * itself (like the kernel without V4L2_EVENT_SUB_FL_ALLOW_FEEDBACK). */
static void set_values(const int *idx, const int64_t *v, unsigned n, bool from_watcher) {
        uint32_t before[N_CTRLS];
        for (size_t i = 0; i < N_CTRLS; i++)
                before[i] = flags_of(i);
        for (unsigned k = 0; k < n; k++) {
                if (st.value[idx[k]] != v[k] && !from_watcher)
                        queue_event((size_t) idx[k], V4L2_EVENT_CTRL_CH_VALUE);
                st.value[idx[k]] = v[k];
        }
        for (size_t i = 0; i < N_CTRLS && !from_watcher; i++)
                if (flags_of(i) != before[i])
                        queue_event(i, V4L2_EVENT_CTRL_CH_FLAGS);
}

static int ext_ctrls(int fd, unsigned long request, struct v4l2_ext_controls *ec) {
        int idx[32];
        int64_t v[32];

        check(ec->count <= ELEMENTSOF(idx));
        if (request == VIDIOC_TRY_EXT_CTRLS)
                fake.ctrl_try_calls++;
        if (ec->which != V4L2_CTRL_WHICH_CUR_VAL)
                return fail(EINVAL);
        for (unsigned i = 0; i < ec->count; i++) {
                struct v4l2_ext_control *x = &ec->controls[i];
                int k = find(x->id);
                ec->error_idx = i;
                if (k < 0 || table[k].type == V4L2_CTRL_TYPE_CTRL_CLASS || compound(&table[k]))
                        return fail(EINVAL);
                uint32_t fl = flags_of((size_t) k);
                if (request == VIDIOC_G_EXT_CTRLS) {
                        if (fl & V4L2_CTRL_FLAG_WRITE_ONLY)
                                return fail(EACCES);
                        if (table[k].type == V4L2_CTRL_TYPE_INTEGER64)
                                x->value64 = st.value[k];
                        else
                                x->value = (int32_t) st.value[k];
                        continue;
                }
                if (fl & V4L2_CTRL_FLAG_READ_ONLY)
                        return fail(EACCES);
                if (fake.ctrl_fail_id == x->id)
                        return fail(fake.ctrl_fail_errno ?: EINVAL);
                idx[i] = k;
                v[i] = table[k].type == V4L2_CTRL_TYPE_INTEGER64 ? x->value64 : x->value;
                if (table[k].type == V4L2_CTRL_TYPE_MENU &&
                    (v[i] < table[k].min || v[i] > table[k].max || !table[k].menu[v[i]]))
                        return fail(EINVAL);
                v[i] = CLAMP(v[i], table[k].min, table[k].max); /* as the kernel does */
        }
        ec->error_idx = ec->count;
        if (request == VIDIOC_S_EXT_CTRLS) {
                fake.ctrl_set_calls++;
                set_values(idx, v, ec->count, fd == FAKE_CTRL_FD);
        }
        return 0;
}

static int subscribe(const struct v4l2_event_subscription *s, bool on) {
        int k = find(s->id);
        if (s->type != V4L2_EVENT_CTRL || k < 0)
                return fail(EINVAL);
        st.subscribed[k] = on;
        if (on)
                fake.ctrl_subscriptions++;
        return 0;
}

static int dqevent(struct v4l2_event *e) {
        if (fake.ctrl_hangup)
                return fail(ENODEV);
        if (st.n_events == 0)
                return fail(ENOENT);
        *e = st.events[0];
        memmove(st.events, st.events + 1, --st.n_events * sizeof st.events[0]);
        return 0;
}

bool fake_controls_ioctl(int fd, unsigned long request, void *arg, int *ret) {
        switch (request) {
        case VIDIOC_QUERY_EXT_CTRL: *ret = query_ext(arg); return true;
        case VIDIOC_QUERYMENU: *ret = query_menu(arg); return true;
        case VIDIOC_G_EXT_CTRLS:
        case VIDIOC_TRY_EXT_CTRLS:
        case VIDIOC_S_EXT_CTRLS: *ret = ext_ctrls(fd, request, arg); return true;
        case VIDIOC_SUBSCRIBE_EVENT: *ret = subscribe(arg, true); return true;
        case VIDIOC_UNSUBSCRIBE_EVENT: *ret = subscribe(arg, false); return true;
        case VIDIOC_DQEVENT: *ret = dqevent(arg); return true;
        default: return false;
        }
}

void fake_controls_closed(void) {
        memset(st.subscribed, 0, sizeof st.subscribed);
        st.n_events = 0;
}

bool fake_controls_event_pending(void) {
        return st.n_events > 0;
}

void fake_control_set_external(uint32_t id, int64_t value) {
        pthread_mutex_lock(&fake.lock);
        int k = find(id);
        check(k >= 0);
        set_values(&k, &value, 1, false);
        pthread_mutex_unlock(&fake.lock);
}

int64_t fake_control_value(uint32_t id) {
        pthread_mutex_lock(&fake.lock);
        int k = find(id);
        check(k >= 0);
        int64_t v = st.value[k];
        pthread_mutex_unlock(&fake.lock);
        return v;
}
