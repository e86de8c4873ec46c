/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capture/camera-controls-private.h"
#include "shared/log.h"
#include "shared/macro.h"

/* The backend-neutral part of the controls: names, the checks every setting passes before
 * a device sees it, and the order auto clusters need. */

const char *camera_control_type_to_string(enum camera_control_type t) {
        switch (t) {
        case CAMERA_CONTROL_INTEGER: return "integer";
        case CAMERA_CONTROL_BOOLEAN: return "boolean";
        case CAMERA_CONTROL_MENU: return "menu";
        }
        return "unknown";
}

void camera_control_name_from_v4l2(const char *v4l2_name, char *buf, size_t size) {
        size_t n = 0;
        bool gap = false;

        assert(size > 0);
        for (const char *p = v4l2_name; *p && n + 1 < size; p++) {
                unsigned char ch = (unsigned char) *p;
                if (isalnum(ch)) {
                        if (gap && n > 0 && n + 2 < size)
                                buf[n++] = '-';
                        gap = false;
                        buf[n++] = (char) tolower(ch);
                } else if (ch == ' ' || ch == '-' || ch == '_' || ch == '/')
                        gap = true; /* word breaks; runs become one '-' */
                /* other punctuation is dropped */
        }
        buf[n] = '\0';
}

void camera_control_list_done(struct camera_control_list *l) {
        for (size_t i = 0; i < l->n; i++) {
                for (size_t k = 0; k < l->items[i].n_menu; k++)
                        free(l->items[i].menu[k].name);
                free(l->items[i].menu);
        }
        free(l->items);
        *l = (struct camera_control_list) {};
}

const struct camera_control *camera_control_list_find(const struct camera_control_list *l,
                                                      const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].name, name))
                        return &l->items[i];
        return NULL;
}

struct camera_control *camera_control_list_add(struct camera_control_list *l, uint32_t id,
                                               const char *v4l2_name) {
        struct camera_control *n = realloc(l->items, (l->n + 1) * sizeof *n);
        if (!n)
                return NULL;
        l->items = n;
        struct camera_control *c = &n[l->n];
        *c = (struct camera_control) { .id = id, .step = 1 };
        camera_control_name_from_v4l2(v4l2_name, c->name, sizeof c->name);
        if (!c->name[0])
                snprintf(c->name, sizeof c->name, "control-%08" PRIx32, id);
        /* Two controls deriving one name (rare): the later one gets its id appended. */
        if (camera_control_list_find(l, c->name)) {
                size_t len = strnlen(c->name, sizeof c->name - 10);
                snprintf(c->name + len, sizeof c->name - len, "-%08" PRIx32, id);
        }
        l->n++;
        return c;
}

int camera_control_add_menu_item(struct camera_control *c, int64_t index, const char *name) {
        struct camera_menu_item *n = realloc(c->menu, (c->n_menu + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        c->menu = n;
        n[c->n_menu].index = index;
        n[c->n_menu].name = strdup(name);
        if (!n[c->n_menu].name)
                return -ENOMEM;
        c->n_menu++;
        return 0;
}

int camera_device_get_controls(struct camera_device *d, struct camera_control_list *ret) {
        *ret = (struct camera_control_list) {};
        if (!d->backend->controls)
                return 0;
        int r = d->backend->controls->query(d, ret);
        if (r < 0)
                camera_control_list_done(ret);
        return r;
}

void camera_device_set_controls_callback(struct camera_device *d, camera_controls_changed_fn fn,
                                         void *userdata) {
        /* Only while not streaming: the watcher reads these without a lock. */
        assert(!d->streaming);
        d->controls_changed = fn;
        d->controls_userdata = userdata;
}

void camera_controls_notify(struct camera_device *d) {
        if (d->controls_changed)
                d->controls_changed(d, d->controls_userdata);
}

void camera_controls_watch(struct camera_device *d) {
        if (d->backend->controls && d->backend->controls->watch)
                d->backend->controls->watch(d);
}

void camera_controls_unwatch(struct camera_device *d) {
        if (d->backend->controls && d->backend->controls->unwatch)
                d->backend->controls->unwatch(d);
}

static int refuse(char **ret_error, int r, const char *format, ...) _printf_(3, 4);
static int refuse(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

static const struct camera_menu_item *menu_item(const struct camera_control *c, int64_t index) {
        for (size_t k = 0; k < c->n_menu; k++)
                if (c->menu[k].index == index)
                        return &c->menu[k];
        return NULL;
}

/* The value s asks of c, or -EINVAL with *ret_error. */
static int resolve(const struct camera_control *c, const struct camera_control_setting *s,
                   int64_t *ret, char **ret_error) {
        if (c->read_only)
                return refuse(ret_error, -EINVAL, "%s is read-only", c->name);
        switch (s->kind) {
        case CAMERA_VALUE_NAME:
                if (c->type != CAMERA_CONTROL_MENU)
                        return refuse(ret_error, -EINVAL, "%s is a number%s, not a menu; it takes no name",
                                      c->name, c->type == CAMERA_CONTROL_BOOLEAN ? " or a boolean" : "");
                for (size_t k = 0; k < c->n_menu; k++)
                        if (strcasecmp(c->menu[k].name, s->item) == 0) {
                                *ret = c->menu[k].index;
                                return 0;
                        }
                return refuse(ret_error, -EINVAL, "%s has no item \"%.64s\"", c->name, s->item);
        case CAMERA_VALUE_BOOLEAN:
                if (c->type != CAMERA_CONTROL_BOOLEAN)
                        return refuse(ret_error, -EINVAL, "%s is %s control; it takes a number%s, not a boolean",
                                      c->name, c->type == CAMERA_CONTROL_MENU ? "a menu" : "an integer",
                                      c->type == CAMERA_CONTROL_MENU ? " or an item name" : "");
                *ret = s->value ? 1 : 0;
                return 0;
        case CAMERA_VALUE_INTEGER:
                if (s->value < c->min || s->value > c->max)
                        return refuse(ret_error, -EINVAL, "%s: %" PRId64 " is out of range %" PRId64 "..%" PRId64,
                                      c->name, s->value, c->min, c->max);
                if (c->type == CAMERA_CONTROL_MENU && !menu_item(c, s->value))
                        return refuse(ret_error, -EINVAL, "%s has no item %" PRId64, c->name, s->value);
                if (c->type == CAMERA_CONTROL_INTEGER && c->step > 1 && (s->value - c->min) % c->step != 0)
                        return refuse(ret_error, -EINVAL, "%s: %" PRId64 " is not %" PRId64 " plus a multiple of %" PRId64,
                                      c->name, s->value, c->min, c->step);
                *ret = s->value;
                return 0;
        }
        return refuse(ret_error, -EINVAL, "%s: unknown value kind", c->name);
}

static int apply(struct camera_device *d, const struct camera_control_list *l,
                 const struct camera_control_value *v, size_t n, char **ret_error) {
        size_t bad = n;
        int r = d->backend->controls->apply(d, v, n, &bad);
        if (r >= 0)
                return 0;
        const char *name = "one of them";
        for (size_t i = 0; bad < n && i < l->n; i++)
                if (l->items[i].id == v[bad].id)
                        name = l->items[i].name;
        if (r == -EINVAL || r == -ERANGE)
                return refuse(ret_error, -EINVAL, "the camera refused %s", name);
        if (r == -EBUSY || r == -EACCES)
                return refuse(ret_error, -EBUSY, "the camera cannot change %s now (%s)", name, strerror(-r));
        return refuse(ret_error, r, "setting %s failed: %s", name, strerror(-r));
}

/* Auto clusters: the settings that were inactive go after the others, which may have
 * activated them (auto-exposure=manual with exposure-time-absolute). Should they still be
 * inactive, or the device refuse them, the first part is undone. */
static int apply_in_two_steps(struct camera_device *d, const struct camera_control_list *l,
                              const struct camera_control_value *first, size_t n_first,
                              const struct camera_control_value *second, size_t n_second,
                              char **ret_error) {
        _cleanup_free_ struct camera_control_value *old = calloc(n_first, sizeof *old);
        _cleanup_(camera_control_list_donep) struct camera_control_list now = {};
        int r;

        if (!old)
                return -ENOMEM;
        for (size_t i = 0; i < n_first; i++)
                for (size_t k = 0; k < l->n; k++)
                        if (l->items[k].id == first[i].id)
                                old[i] = (struct camera_control_value) { first[i].id, l->items[k].value };

        r = apply(d, l, first, n_first, ret_error);
        if (r < 0)
                return r;
        r = d->backend->controls->query(d, &now);
        for (size_t i = 0; r >= 0 && i < n_second; i++)
                for (size_t k = 0; k < now.n; k++)
                        if (now.items[k].id == second[i].id && now.items[k].inactive) {
                                r = refuse(ret_error, -EINVAL,
                                           "%s is inactive (an automatic mode controls it; turn that off first)",
                                           now.items[k].name);
                                break;
                        }
        if (r >= 0)
                r = apply(d, &now, second, n_second, ret_error);
        if (r < 0) {
                size_t ignored;
                if (d->backend->controls->apply(d, old, n_first, &ignored) < 0)
                        log_warning("Camera %s: undoing a partial control change failed", d->info.id);
        }
        return r;
}

int camera_device_set_controls(struct camera_device *d, const struct camera_control_setting *s,
                               size_t n, char **ret_error) {
        _cleanup_(camera_control_list_donep) struct camera_control_list l = {};
        _cleanup_free_ struct camera_control_value *v = NULL;
        size_t n_active = 0, n_inactive = 0;
        int r;

        *ret_error = NULL;
        if (n == 0)
                return 0;
        if (!d->backend->controls)
                return refuse(ret_error, -EINVAL, "%s has no controls (asked for %s)", d->info.id, s[0].name);
        r = d->backend->controls->query(d, &l);
        if (r < 0)
                return refuse(ret_error, r, "reading the controls failed: %s", strerror(-r));

        /* Active ones from the front, inactive ones from the back. */
        v = calloc(n, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const struct camera_control *c = camera_control_list_find(&l, s[i].name);
                int64_t value = 0;

                if (!c)
                        return refuse(ret_error, -EINVAL, "no control \"%.64s\" on %s", s[i].name, d->info.id);
                for (size_t k = 0; k < i; k++)
                        if (streq(s[k].name, s[i].name))
                                return refuse(ret_error, -EINVAL, "%s is given twice", c->name);
                r = resolve(c, &s[i], &value, ret_error);
                if (r < 0)
                        return r;
                if (c->inactive)
                        v[n - 1 - n_inactive++] = (struct camera_control_value) { c->id, value };
                else
                        v[n_active++] = (struct camera_control_value) { c->id, value };
        }

        if (n_inactive == 0)
                return apply(d, &l, v, n, ret_error);
        if (n_active == 0) {
                for (size_t i = 0; i < l.n; i++)
                        if (l.items[i].id == v[n - 1].id)
                                return refuse(ret_error, -EINVAL,
                                              "%s is inactive (an automatic mode controls it; turn that off first)",
                                              l.items[i].name);
        }
        return apply_in_two_steps(d, &l, v, n_active, v + n_active, n_inactive, ret_error);
}
