/* SPDX-License-Identifier: MIT */
/* The VideoProcessSession calls: Prepare → CreateStreams → CommitStreams → ProcessVideo,
 * and Remove, Interrupt, Reset, GetVideoInfo, the pending list, recordings. */
#include <inttypes.h>
#include <math.h>

#include "media/avi-reader.h"
#include "media/avi-writer.h"
#include "process/video-processor-internal.h"
#include "process/video-record.h"
#include "process/video-run.h"
#include "shared/fd-util.h"
#include "shared/id.h"
#include "shared/log.h"
#include "shared/macro.h"

static int check_id(struct video_processor *vp, const char *id, struct video_entry **ret) {
        struct video_entry *e;

        if (!id || !video_id_is_valid(id))
                return video_fail(vp, -ENOENT, "invalid id: a video id is 1-64 characters of [A-Za-z0-9._-]");
        e = video_entry_find(vp, id);
        if (!e)
                return video_fail(vp, -ENOENT, "invalid id: no video '%s' was prepared or recorded", id);
        *ret = e;
        return 0;
}

static int fill_streams(struct video_entry *e) {
        struct avi_reader *r = e->reader;
        unsigned n = avi_reader_n_streams(r), video = avi_reader_video_stream(r);
        struct video_stream_info *s = calloc(n, sizeof *s);

        if (!s)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                const struct avi_stream_info *a = avi_reader_stream(r, i);

                s[i].id = (int) a->id;
                s[i].type = a->type == AVI_STREAM_VIDEO ? VIDEO_STREAM_VIDEO : VIDEO_STREAM_METADATA;
                snprintf(s[i].format, sizeof s[i].format, "%s", a->codec);
                if (i == video) {
                        uint32_t rate, scale;
                        avi_reader_frame_rate(r, &rate, &scale);
                        s[i].width = a->width;
                        s[i].height = a->height;
                        s[i].fps = avi_reader_fps(r);
                        s[i].frames = (uint32_t) MIN(avi_reader_frame_count(r), (uint64_t) UINT32_MAX);
                        s[i].duration_us = video_frame_time_us(rate, scale, s[i].frames);
                        e->video_stream_id = s[i].id;
                } else {
                        s[i].width = a->type == AVI_STREAM_VIDEO ? a->width : 0;
                        s[i].height = a->type == AVI_STREAM_VIDEO ? a->height : 0;
                        s[i].fps = a->scale ? (double) a->rate / a->scale : 0;
                        s[i].frames = (uint32_t) MIN(a->length, (uint64_t) UINT32_MAX);
                        s[i].duration_us = video_frame_time_us(a->rate, a->scale, s[i].frames);
                }
        }
        free(e->streams);
        e->streams = s;
        e->n_streams = n;
        return 0;
}

/* Unlinks e, deletes its record and tells the owner the pending list changed. e must not
 * be running. */
static void forget_entry(struct video_processor *vp, struct video_entry *e) {
        char id[VIDEO_ID_MAX + 1];
        int r;

        snprintf(id, sizeof id, "%s", e->rec.id);
        video_entry_unlink(vp, e);
        video_entry_free(e);
        r = video_record_delete(vp->dir_fd, id);
        if (r < 0)
                log_warning_errno(r, "Cannot delete the record of video %s: %m", id);
        video_processor_pending_changed(vp);
}

/* Each prepared video not yet done holds its input (and, once it has streams, its output)
 * open; a limit per uid keeps one user from using up the daemon's descriptors. e (the id
 * being prepared, maybe NULL) and an uncommitted current video, which this Prepare closes,
 * do not count. */
static int check_files_limit(struct video_processor *vp, const struct video_entry *e, const char *id) {
        unsigned held = 0;

        for (struct video_entry *i = vp->entries; i; i = i->next)
                if (i != e && !(i == vp->current && !i->committed && !i->run) && video_entry_holds_files(i))
                        held++;
        if (held < VIDEO_PREPARED_MAX)
                return 0;
        return video_fail(vp, -EPERM, "%u prepared videos that are not done already hold open files for this "
                          "user, the most allowed; process them to the end, RemoveVideo some or Reset before "
                          "preparing '%s'", held, id);
}

int video_processor_prepare(struct video_processor *vp, const char *id, int fd,
                            struct video_stream_info **ret_streams, size_t *ret_n) {
        _cleanup_(avi_reader_freep) struct avi_reader *reader = NULL;
        char reason[AVI_ERROR_MAX] = "";
        struct video_stream_info *copy;
        struct video_entry *e;
        const char *why;
        uint32_t rate, scale, frames;
        bool created = false;
        int r;

        if (!id || !video_id_is_valid(id))
                return video_fail(vp, -ENOENT, "invalid id: a video id is 1-64 characters of [A-Za-z0-9._-]");
        e = video_entry_find(vp, id);
        if (e && e->run)
                return video_fail(vp, -EPERM, "video '%s' is running; Interrupt it before preparing it again", id);
        if (fd_check_regular_file(fd, FD_NEED_READ, &why) < 0)
                return video_fail(vp, -EINVAL, "the file descriptor for video '%s' %s", id, why);
        r = check_files_limit(vp, e, id);
        if (r < 0)
                return r;
        r = avi_reader_open(fd, &reader, reason, sizeof reason);
        if (r == -ENOMEM)
                return video_fail(vp, r, "out of memory reading video '%s'", id);
        if (r == -ENODATA && e && e->rec.recorded) {
                /* An empty recording (stopped before its first frame) can never be
                 * processed: take it off the pending list instead of keeping it forever. */
                forget_entry(vp, e);
                return video_fail(vp, -EINVAL, "video '%s' is an empty recording (no frames); it was "
                                  "removed from the pending videos", id);
        }
        if (r < 0)
                return video_fail(vp, -EINVAL, "video '%s' is not a readable Motion-JPEG AVI: %s", id,
                           reason[0] ? reason : strerror(-r));
        avi_reader_frame_rate(reader, &rate, &scale);
        if (rate == 0 || scale == 0)
                return video_fail(vp, -EINVAL, "video '%s' has no frame rate (rate %u, scale %u)", id, rate, scale);
        if (avi_reader_frame_count(reader) > UINT32_MAX)
                return video_fail(vp, -EINVAL, "video '%s' has too many frames", id);
        frames = (uint32_t) avi_reader_frame_count(reader);

        if (!e) {
                r = video_entry_new(vp, id, &e);
                if (r < 0)
                        return video_fail(vp, r, "out of memory");
                created = true;
        } else {
                video_entry_drop_session(e);
                if (e->rec.state == VIDEO_STATE_DONE ||
                    (e->rec.frames && e->rec.frames != frames) ||
                    (e->rec.width &&
                     e->rec.width != avi_reader_stream(reader, avi_reader_video_stream(reader))->width)) {
                        /* Done before, or another file under the same id: start afresh. */
                        e->rec.next_frame = 0;
                        e->rec.has_output = false;
                        e->rec.output_start = 0;
                        e->rec.state = VIDEO_STATE_PENDING;
                        e->rec.error[0] = 0;
                        created = true; /* back on the pending list */
                }
        }
        e->reader = TAKE_PTR(reader);
        r = fill_streams(e);
        if (r < 0) {
                video_entry_drop_session(e);
                return video_fail(vp, r, "out of memory");
        }
        {
                const struct avi_stream_info *v = avi_reader_stream(e->reader, avi_reader_video_stream(e->reader));
                e->rec.width = v->width;
                e->rec.height = v->height;
        }
        e->rec.rate = rate;
        e->rec.scale = scale;
        e->rec.frames = frames;
        r = video_entry_save(vp, e);
        if (r < 0) {
                if (created && e->rec.next_frame == 0 && !e->rec.recorded) {
                        video_entry_unlink(vp, e);
                        video_entry_free(e);
                } else
                        video_entry_drop_session(e);
                return video_fail(vp, r, "cannot save the record of video '%s': %s", id, strerror(-r));
        }

        /* CreateStreams and CommitStreams act on the current video only, so an uncommitted
         * one that stops being current can never be committed: close its files too. */
        if (vp->current && vp->current != e && !vp->current->committed && !vp->current->run)
                video_entry_drop_session(vp->current);
        vp->current = e;

        copy = malloc(e->n_streams * sizeof *copy + 1);
        if (!copy)
                return video_fail(vp, -ENOMEM, "out of memory");
        memcpy(copy, e->streams, e->n_streams * sizeof *copy);
        *ret_streams = copy;
        *ret_n = e->n_streams;
        if (created)
                video_processor_pending_changed(vp);
        return 0;
}

int video_processor_create_streams(struct video_processor *vp,
                                   const struct video_stream_output *outputs, size_t n) {
        struct video_entry *e = vp->current;
        const char *why;
        int fd;

        if (!e || !e->reader)
                return video_fail(vp, -EPERM, "CreateStreams needs a prepared video; call Prepare first");
        if (e->run)
                return video_fail(vp, -EPERM, "video '%s' is running; its streams cannot change now", e->rec.id);
        if (n == 0)
                return video_fail(vp, -EINVAL, "no streams given");
        for (size_t i = 0; i < n; i++) {
                const struct video_stream_output *o = &outputs[i];
                bool known = false;

                for (size_t k = 0; k < e->n_streams; k++)
                        known = known || e->streams[k].id == o->stream_id;
                if (!known)
                        return video_fail(vp, -EINVAL, "stream %d is not a stream of video '%s', which has %zu",
                                   o->stream_id, e->rec.id, e->n_streams);
                if (o->stream_id != e->video_stream_id)
                        return video_fail(vp, -EINVAL,
                                          "stream %d cannot be processed; only the Motion-JPEG video stream %d can",
                                   o->stream_id, e->video_stream_id);
                if (e->has_output || i > 0)
                        return video_fail(vp, -EINVAL, "stream %d already has an output; release it first",
                                          o->stream_id);
                if (o->quality != 0 && (o->quality < 1 || o->quality > 100))
                        return video_fail(vp, -EINVAL, "quality for stream %d must be from 1 to 100, got %d",
                                   o->stream_id, o->quality);
                if (fd_check_regular_file(o->fd, FD_NEED_WRITE, &why) < 0)
                        return video_fail(vp, -EINVAL, "the output file descriptor for stream %d %s",
                                          o->stream_id, why);
        }
        fd = fd_dup_cloexec(outputs[0].fd);
        if (fd < 0)
                return video_fail(vp, fd, "cannot duplicate the output file descriptor: %s", strerror(-fd));
        video_entry_drop_output(e);
        e->output_fd = fd;
        e->output_stream_id = outputs[0].stream_id;
        e->output_quality = outputs[0].quality;
        e->has_output = true;
        return 0;
}

int video_processor_commit_streams(struct video_processor *vp, const void *json, size_t len) {
        struct video_entry *e = vp->current;
        struct video_settings s;
        char msg[256];
        int r;

        if (!e || !e->has_output)
                return video_fail(vp, -EPERM, "CommitStreams needs created streams; call %s first",
                           e ? "CreateStreams" : "Prepare and CreateStreams");
        if (e->run)
                return video_fail(vp, -EPERM, "video '%s' is running; its settings cannot change now", e->rec.id);
        r = video_settings_parse(json, len, &s, msg, sizeof msg);
        if (r < 0)
                return video_fail(vp, r, "%s", r == -ENOMEM ? "out of memory" : msg);
        e->settings = s;
        e->committed = true;
        return 0;
}

int video_processor_release_streams(struct video_processor *vp, const int *stream_ids, size_t n) {
        struct video_entry *e = vp->current;

        if (!e || !e->has_output)
                return video_fail(vp, -EPERM, "ReleaseStreams needs created streams; there are none");
        if (e->run)
                return video_fail(vp, -EPERM, "video '%s' is running; Interrupt it before releasing its streams",
                                  e->rec.id);
        for (size_t i = 0; i < n; i++)
                if (stream_ids[i] != e->output_stream_id)
                        return video_fail(vp, -EINVAL, "stream %d has no output (the output is on stream %d)",
                                   stream_ids[i], e->output_stream_id);
        if (n > 0)
                video_entry_drop_output(e);
        return 0;
}

int video_processor_process(struct video_processor *vp, const char *id, uint64_t timestamp_us) {
        struct video_entry *e;
        struct avi_writer *writer = NULL;
        uint64_t k;
        uint32_t from;
        bool append = false;
        int r;

        r = check_id(vp, id, &e);
        if (r < 0)
                return r;
        if (e->run)
                return video_fail(vp, -EPERM, "video '%s' is already running", id);
        if (e->rec.state == VIDEO_STATE_DONE)
                return video_fail(vp, -EPERM, "video '%s' is done; Prepare it again to process it anew", id);
        if (!e->reader || !e->committed)
                return video_fail(vp, -EPERM, "ProcessVideo needs committed streams for video '%s'; it is %s "
                           "(call Prepare, CreateStreams and CommitStreams first)", id,
                           !e->reader ? "not prepared" : e->has_output ? "not committed" : "without streams");
        k = video_frame_at_time(e->rec.rate, e->rec.scale, timestamp_us);
        if (k >= e->rec.frames)
                return video_fail(vp, -EINVAL,
                                  "timestamp %" PRIu64 " µs is past the last frame of video '%s' (%" PRIu64 " µs)",
                           timestamp_us, id, video_frame_time_us(e->rec.rate, e->rec.scale, e->rec.frames - 1));

        from = (uint32_t) k;
        if (k > 0 && e->rec.has_output && e->rec.output_start <= k) {
                /* A resume: continue the output an earlier run wrote. */
                uint64_t have;

                if (!e->writer) {
                        char reason[AVI_ERROR_MAX] = "";
                        r = avi_writer_open_append(e->output_fd, 0, &e->writer, reason, sizeof reason);
                        if (r < 0)
                                return video_fail(vp, -EINVAL, "cannot resume video '%s': its output cannot be "
                                           "reopened (%s); give a read-write output or process from 0", id,
                                           reason[0] ? reason : strerror(-r));
                }
                have = avi_writer_frame_count(e->writer);
                if (have > 0 && e->rec.output_start + have < k) {
                        (void) avi_writer_finish(e->writer); /* playable as it was */
                        return video_fail(vp, -EINVAL, "cannot resume video '%s' at frame %" PRIu64 ": the output holds "
                                   "frames %u to %" PRIu64 "; process from %" PRIu64 " µs or 0", id, k,
                                   e->rec.output_start, e->rec.output_start + have - 1,
                                   video_frame_time_us(e->rec.rate, e->rec.scale, e->rec.output_start + have));
                }
                if (have > 0) {
                        append = true;
                        from = (uint32_t) MIN(e->rec.output_start + have, (uint64_t) e->rec.frames);
                        writer = TAKE_PTR(e->writer);
                }
        }
        if (!append) {
                struct avi_writer_params params = {
                        .width = e->rec.width,
                        .height = e->rec.height,
                        .fps_num = e->rec.rate,
                        .fps_den = e->rec.scale,
                };
                if (e->writer) /* reopened above but empty: nothing of it to keep */
                        (void) avi_writer_finish(e->writer);
                e->writer = avi_writer_free(e->writer);
                r = avi_writer_new(e->output_fd, &params, &writer);
                if (r < 0)
                        return video_fail(vp, r == -EINVAL ? -EINVAL : r, "cannot start the output of video '%s': %s",
                                   id, strerror(-r));
                e->rec.output_start = from;
        }

        e->rec.has_output = true;
        e->rec.next_frame = from;
        e->rec.state = VIDEO_STATE_RUNNING;
        e->rec.error[0] = 0;
        (void) video_entry_save(vp, e);
        r = video_entry_start_run(vp, e, from, writer,
                      append && e->have_reference && e->reference_frame + 1 == from);
        if (r < 0) {
                e->writer = writer;
                e->rec.state = VIDEO_STATE_PENDING;
                (void) video_entry_save(vp, e);
                return video_fail(vp, r, "cannot start processing video '%s': %s", id, strerror(-r));
        }
        log_info("Video %s: processing frames %u to %u%s", id, from, e->rec.frames - 1,
                 append ? " (appending)" : "");
        return 0;
}

int video_processor_remove(struct video_processor *vp, const char *id) {
        struct video_entry *e;
        int r;

        r = check_id(vp, id, &e);
        if (r < 0)
                return r;
        if (e->run) {
                struct ended_node *node = e->node;

                video_run_stop(e->run, POOL_CANCEL_REMOVED);
                video_entry_wait_run_ended(vp, e);
                pthread_mutex_lock(&vp->lock);
                for (struct ended_node **p = &vp->ended; *p; p = &(*p)->next)
                        if (*p == node) {
                                *p = node->next;
                                break;
                        }
                pthread_mutex_unlock(&vp->lock);
                video_run_free(e->run);
                free(node);
                e->run = NULL;
                e->node = NULL;
        }
        forget_entry(vp, e);
        return 0;
}

int video_processor_interrupt(struct video_processor *vp) {
        video_processor_stop_all(vp, POOL_CANCEL_INTERRUPT);
        video_processor_drain_ended(vp, true);
        return 0;
}

int video_processor_reset(struct video_processor *vp) {
        video_processor_stop_all(vp, POOL_CANCEL_INTERRUPT);
        video_processor_drain_ended(vp, true);
        for (struct video_entry *e = vp->entries; e; e = e->next)
                if (!e->run) /* a callback may have started one again; leave it be */
                        video_entry_drop_session(e);
        vp->current = NULL;
        video_processor_set_status(vp, VIDEO_STATUS_READY);
        return 0;
}

int video_processor_get_info(struct video_processor *vp, const char *id, struct video_info *ret) {
        struct video_entry *e;
        int r;

        r = check_id(vp, id, &e);
        if (r < 0)
                return r;
        *ret = (struct video_info) {
                /* Queued behind other work (images) is still waiting, not running. */
                .state = !e->run ? e->rec.state : video_run_started(e->run) ? VIDEO_STATE_RUNNING
                                                                             : VIDEO_STATE_PENDING,
                .frames_done = e->rec.next_frame,
                .frames = e->rec.frames,
                .resume_timestamp = video_frame_time_us(e->rec.rate, e->rec.scale, e->rec.next_frame),
                .width = e->rec.width,
                .height = e->rec.height,
                .fps = e->rec.scale ? (double) e->rec.rate / e->rec.scale : 0,
                .created_us = e->rec.created_us,
                .prepared = e->reader != NULL || e->run != NULL,
                .committed = e->committed,
                .error = e->rec.error[0] ? e->rec.error : NULL,
        };
        return 0;
}

void video_processor_strv_free(char **strv) {
        if (!strv)
                return;
        for (char **s = strv; *s; s++)
                free(*s);
        free(strv);
}

int video_processor_pending(struct video_processor *vp, char ***ret) {
        size_t n = 0, i = 0;
        char **strv;

        for (struct video_entry *e = vp->entries; e; e = e->next)
                n += e->rec.state != VIDEO_STATE_DONE;
        strv = calloc(n + 1, sizeof *strv);
        if (!strv)
                return video_fail(vp, -ENOMEM, "out of memory");
        for (struct video_entry *e = vp->entries; e; e = e->next) {
                if (e->rec.state == VIDEO_STATE_DONE)
                        continue;
                strv[i] = strdup(e->rec.id);
                if (!strv[i]) {
                        video_processor_strv_free(strv);
                        return video_fail(vp, -ENOMEM, "out of memory");
                }
                i++;
        }
        *ret = strv;
        return 0;
}

int video_processor_add_recorded(struct video_processor *vp, const char *id,
                                 const struct video_recorded *info) {
        struct video_entry *e;
        bool created = false;
        int r;

        if (!id || !video_id_is_valid(id))
                return video_fail(vp, -EINVAL, "a video id is 1-64 characters of [A-Za-z0-9._-]");
        if (!info || info->width > MEDIA_MAX_SIDE || info->height > MEDIA_MAX_SIDE ||
            !isfinite(info->fps) || info->fps < 0 || info->fps > 1000)
                return video_fail(vp, -EINVAL, "bad metadata for recorded video '%s'", id);
        e = video_entry_find(vp, id);
        if (e && e->run)
                return video_fail(vp, -EPERM, "video '%s' is running", id);
        if (e && e->rec.recorded && info->frames == 0) {
                /* The update at StopRecording of a recording that got no frame: nothing
                 * to process, ever, so it leaves the pending list. */
                log_info("Recording %s has no frames; it is not kept for processing", id);
                forget_entry(vp, e);
                return 0;
        }
        if (!e) {
                r = video_entry_new(vp, id, &e);
                if (r < 0)
                        return video_fail(vp, r, "out of memory");
                created = true;
        }
        e->rec.recorded = true;
        e->rec.width = info->width;
        e->rec.height = info->height;
        if (info->fps > 0) {
                e->rec.rate = (uint32_t) lround(info->fps * 1000);
                e->rec.scale = 1000;
        }
        e->rec.frames = info->frames;
        if (e->rec.next_frame > e->rec.frames)
                e->rec.next_frame = 0;
        r = video_entry_save(vp, e);
        if (r < 0) {
                if (created) {
                        video_entry_unlink(vp, e);
                        video_entry_free(e);
                }
                return video_fail(vp, r, "cannot save the record of video '%s': %s", id, strerror(-r));
        }
        if (created)
                video_processor_pending_changed(vp);
        return 0;
}
