/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/bus-errors.h"
#include "bus/image-process.h"
#include "bus/manager.h"
#include "bus/polkit.h"
#include "bus/user-context.h"
#include "bus/video-process.h"
#include "process/image-processor.h"
#include "process/pool.h"
#include "process/video-processor.h"
#include "shared/log.h"
#include "shared/macro.h"

struct user_contexts {
        struct user_context *list;
        bool capture_active;
};

static struct user_context *user_context_free(struct user_context *u) {
        if (!u)
                return NULL;
        /* Objects first, so no signal is emitted for a half-freed context. */
        image_process_object_remove(u);
        video_process_object_remove(u);
        if (u->images)
                image_processor_free(u->images);
        if (u->videos)
                video_processor_free(u->videos);
        if (u->pool)
                pool_unref(u->pool);
        free(u->image_path);
        free(u->video_path);
        free(u);
        return NULL;
}

static struct user_contexts *contexts(struct manager *m) {
        if (!m->user_contexts)
                m->user_contexts = calloc(1, sizeof *m->user_contexts);
        return m->user_contexts;
}

static int user_context_new(struct manager *m, uid_t uid, struct user_context **ret) {
        struct user_contexts *all = contexts(m);
        struct user_context *u;
        int r;

        if (!all)
                return -ENOMEM;

        u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        u->manager = m;
        u->uid = uid;
        r = -ENOMEM;
        if (asprintf(&u->image_path, CAMERAD_IMAGE_PROCESS_PATH_PREFIX "%" PRIu32, (uint32_t) uid) < 0) {
                u->image_path = NULL;
                goto fail;
        }
        if (asprintf(&u->video_path, CAMERAD_VIDEO_PROCESS_PATH_PREFIX "%" PRIu32, (uint32_t) uid) < 0) {
                u->video_path = NULL;
                goto fail;
        }

        r = pool_new(m->config, &u->pool);
        if (r < 0)
                goto fail;

        r = image_processor_new(&(struct image_processor_params) {
                        .uid = uid,
                        .state_dir = m->state_dir,
                        .config = m->config,
                        .pool = u->pool,
                        .mailbox = m->mailbox,
                        .callbacks = &image_process_callbacks,
                        .userdata = u,
                        /* Paused from the start while a camera runs, not a moment later. */
                        .capture_active = all->capture_active,
                }, &u->images);
        if (r < 0) {
                log_error_errno(r, "Cannot start image processing for uid %u: %m", (unsigned) uid);
                goto fail;
        }

        r = video_processor_new(m->state_dir, uid, u->pool, m->mailbox, &video_process_callbacks,
                                u, &u->videos);
        if (r < 0) {
                log_error_errno(r, "Cannot start video processing for uid %u: %m", (unsigned) uid);
                goto fail;
        }

        r = image_process_object_add(u);
        if (r < 0)
                goto fail;
        r = video_process_object_add(u);
        if (r < 0)
                goto fail;

        u->next = all->list;
        all->list = u;
        log_debug("User context for uid %u created.", (unsigned) uid);
        *ret = u;
        return 0;

fail:
        user_context_free(u);
        return r;
}

int user_context_get(struct manager *m, uid_t uid, struct user_context **ret) {
        assert(m && ret);

        if (m->user_contexts)
                for (struct user_context *u = m->user_contexts->list; u; u = u->next)
                        if (u->uid == uid) {
                                *ret = u;
                                return 0;
                        }
        return user_context_new(m, uid, ret);
}

struct image_processor *user_context_images(struct user_context *u) {
        return u->images;
}

struct video_processor *user_context_videos(struct user_context *u) {
        return u->videos;
}

/* A uid folder name: decimal digits only, no sign, no leading zero, not (uid_t) -1. */
static bool parse_uid(const char *s, uid_t *ret) {
        uint64_t v = 0;

        if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 10)
                return false;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v >= UINT32_MAX)
                return false;
        *ret = (uid_t) v;
        return true;
}

static int load_uids_under(struct manager *m, const char *subdir) {
        _cleanup_free_ char *path = NULL;
        DIR *d;
        struct dirent *de;
        int ret = 0;

        if (asprintf(&path, "%s/%s", m->state_dir, subdir) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "Cannot open %s: %m", path);

        while ((de = readdir(d))) {
                struct user_context *u;
                uid_t uid;
                int r;

                if (de->d_name[0] == '.')
                        continue;
                if (!parse_uid(de->d_name, &uid)) {
                        log_warning("Ignoring %s/%s: not a uid.", path, de->d_name);
                        continue;
                }
                /* One user's broken folder must not keep the service from everyone else:
                 * skip that uid (it gets the error when it calls) and go on. */
                r = user_context_get(m, uid, &u);
                if (r == -ENOMEM && ret == 0)
                        ret = r;
                else if (r < 0)
                        log_error_errno(r, "Skipping uid %u: cannot load %s/%s: %m", (unsigned) uid,
                                        path, de->d_name);
        }
        closedir(d);
        return ret;
}

int user_contexts_load(struct manager *m) {
        int r;

        assert(m);
        r = load_uids_under(m, "images");
        if (r < 0)
                return r;
        return load_uids_under(m, "videos");
}

void user_contexts_free(struct manager *m) {
        struct user_contexts *all = m->user_contexts;

        if (!all)
                return;
        while (all->list) {
                struct user_context *u = all->list;
                all->list = u->next;
                user_context_free(u);
        }
        free(all);
        m->user_contexts = NULL;
}

bool user_contexts_busy(struct manager *m) {
        if (!m->user_contexts)
                return false;
        for (struct user_context *u = m->user_contexts->list; u; u = u->next)
                if (image_processor_pending_count(u->images) > 0 ||
                    video_processor_running_count(u->videos) > 0)
                        return true;
        return false;
}

void user_contexts_set_capture_active(struct manager *m, bool active) {
        struct user_contexts *all = contexts(m);

        if (!all)
                return;
        all->capture_active = active;
        for (struct user_context *u = all->list; u; u = u->next)
                image_processor_set_capture_active(u->images, active);
}

int user_context_check_access(struct user_context *u, sd_bus_message *call, sd_bus_error *error) {
        uid_t uid;
        int r;

        r = bus_message_get_sender_uid(call, &uid);
        if (r < 0)
                return bus_error_setf(error, CAMERAD_ERROR_ACCESS_DENIED,
                                      "The caller's uid cannot be found");
        if (uid == u->uid)
                return 1;

        /* Another user's images and videos: root, or whoever polkit lets manage them. */
        return bus_verify_polkit_async(call, CAMERAD_ACTION_MANAGE, &u->manager->polkit, error);
}
