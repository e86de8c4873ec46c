/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "process/video-settings.h"

/* Deferred video processing for one uid (OpenHarmony's IVideoProcessSession): re-encodes a
 * Motion-JPEG AVI through a motion-adaptive temporal denoise, on the user's shared worker
 * pool, resumable after Interrupt(). No D-Bus here; src/bus/video-process.c wraps it.
 *
 * Threads: every video_processor_* function must be called from the event loop thread (the
 * one that runs mailbox_dispatch() on the mailbox given to video_processor_new()). Work runs
 * on the pool's workers; its results come back as letters through that mailbox, so every
 * callback below runs on the loop thread, inside mailbox_dispatch().
 *
 * Flow (a call out of this order returns -EPERM, which the bus maps to
 * OperationNotAllowed; video_processor_message() says what was expected):
 *
 *   prepare(id, fd)            reads the AVI, registers id (pending), makes it "current"
 *   create_streams(outputs)    output files for streams of the current video
 *   commit_streams(json)       settings for the current video; it may now be processed
 *   process(id, timestamp)     runs in the background; returns at once
 *
 * release_streams(ids) drops outputs of the current video (not while it runs). A new
 * prepare() makes another video current; a committed video keeps its outputs and settings
 * and can be processed (or resumed) later until reset() or remove().
 *
 * Errors: 0 or a negative errno. -EINVAL bad argument or file, -ENOENT unknown or malformed
 * id ("invalid id"), -EPERM out of order / not allowed in this state, -ENOMEM, other
 * negative errnos for I/O failures. After any failure video_processor_message() gives a
 * sentence naming what was wrong and what value/state was seen.
 *
 * Persistence: pending ids, their state and resume points are JSON records under
 * <state_dir>/videos/<uid>/ (written atomically), reloaded by video_processor_new(), so the
 * pending list survives a restart or kill -9. File descriptors do not: after a restart the
 * client calls prepare() again (same id) and resumes with process(id, resume_timestamp). */

/* Prepared videos of one uid that may hold files open at once (see prepare()). */
#define VIDEO_PREPARED_MAX 32u

#include "process/video-state.h"

struct video_processor;
struct worker_pool;
struct mailbox;

/* One stream of a prepared AVI, as Prepare returns it (dbus/org.camerad.Camera1.VideoProcessSession.xml). */
struct video_stream_info {
        int id;                     /* stream number in the AVI, 0-based */
        enum video_stream_type type;
        char format[5];             /* fourcc, e.g. "MJPG"; "" when the stream has none */
        unsigned width, height;     /* 0 for non-video streams */
        double fps;
        uint32_t frames;
        uint64_t duration_us;
};

/* One processing output for CreateStreams. */
struct video_stream_output {
        int stream_id; /* a video stream of the current prepared video */
        int fd;        /* writable, seekable regular file; duplicated, the caller keeps its own */
        int quality;   /* 1–100, or 0: use the committed settings' quality */
};

/* Info for ProcessDone. */
struct video_done_info {
        uint32_t frames;       /* frames in the output file */
        uint64_t size;         /* bytes of the output file */
        unsigned width, height;
        int quality;
        double fps;
        uint64_t duration_us;  /* of the output */
        uint64_t elapsed_us;   /* wall time of this run */
        unsigned preemptions;  /* frame jobs preempted for a requested image (none lost) */
};

/* GetVideoInfo. */
struct video_info {
        enum video_state state;
        uint32_t frames_done;      /* input frames before the resume point */
        uint32_t frames;           /* input frames (0 if not yet known for a recording) */
        uint64_t resume_timestamp; /* µs timestamp of the first unprocessed frame */
        unsigned width, height;
        double fps;
        uint64_t created_us;       /* CLOCK_REALTIME µs when first registered */
        bool prepared;             /* an input fd is held (after prepare(), until done, reset() or remove()) */
        bool committed;            /* outputs and settings are committed: process() may run */
        const char *error;         /* last error message or NULL; valid until the next call */
};

/* Metadata of a video recorded with `deferred` (see add_recorded). */
struct video_recorded {
        unsigned width, height;
        double fps;
        uint32_t frames; /* 0 while still recording */
};

struct video_processor_callbacks {
        /* Processing finished: the output is complete and playable. */
        void (*done)(struct video_processor *vp, const char *id, const struct video_done_info *info,
                     void *userdata);
        /* message is a sentence for logs. */
        void (*error)(struct video_processor *vp, const char *id, enum video_error code,
                      const char *message, void *userdata);
        void (*status)(struct video_processor *vp, enum video_status status, void *userdata);
        /* timestamp (µs) of the last frame written; at most ~4 per second per video. */
        void (*progress)(struct video_processor *vp, const char *id, uint64_t timestamp_us,
                         void *userdata);
        /* The pending list changed (an id was added, finished or removed). May be NULL. */
        void (*pending_changed)(struct video_processor *vp, void *userdata);
};

/* pool is referenced (pool_ref) for the processor's lifetime; mailbox must outlive it.
 * Creates <state_dir>/videos/<uid>/ (0700) and loads its records; a corrupt record is
 * logged and skipped; a record found "running" (a crash) becomes pending. callbacks is
 * copied; any member may be NULL. */
int video_processor_new(const char *state_dir, uid_t uid, struct worker_pool *pool,
                        struct mailbox *mailbox, const struct video_processor_callbacks *callbacks,
                        void *userdata, struct video_processor **ret);
/* Stops running work (waits for this processor's jobs to leave the pool; their outputs are
 * finished as playable files and resume points saved), closes fds, frees. Records stay on
 * disk. Letters already posted for it are ignored safely. Returns NULL. */
struct video_processor *video_processor_free(struct video_processor *vp);

/* The sentence describing the last failure of a call on vp ("" if none). Valid until the
 * next call on vp. */
const char *video_processor_message(struct video_processor *vp);

/* Reads the Motion-JPEG AVI on fd (read access is enough; fd is duplicated). -EINVAL when
 * fd is a pipe, directory, write-only, or not a readable MJPEG AVI (the message says why;
 * a file cut short whose headers list more frames than it holds is "truncated: ..."). A
 * recording that turns out to have no frames is removed from the pending list (-EINVAL).
 * On success *ret_streams (malloc'd, caller frees) holds *ret_n stream infos. The id is
 * registered as pending if new; a known id (e.g. after a restart, or a recording) is
 * re-attached, keeping its resume point when the frame count matches. Not allowed while
 * that id is running (-EPERM). Makes id the current video; another current video that was
 * not committed is closed (input and outputs: only the current video can be committed).
 * Files: a prepared video holds its input (and outputs) open until it is done, reset() or
 * remove(); when VIDEO_PREPARED_MAX other videos of this uid hold files, -EPERM. */
int video_processor_prepare(struct video_processor *vp, const char *id, int fd,
                            struct video_stream_info **ret_streams, size_t *ret_n);

/* Adds outputs for the current video. -EPERM before prepare() or after commit while
 * running; -EINVAL for an unknown stream id, a non-video stream, a stream given twice, a
 * second video output, a bad fd (not writable/seekable/regular) or quality out of 1–100. */
int video_processor_create_streams(struct video_processor *vp,
                                   const struct video_stream_output *outputs, size_t n);

/* Commits modeSetting (UTF-8 JSON, see video-settings.h) for the current video. -EPERM
 * without created streams; -EINVAL for bad JSON (message names the key). May be called
 * again to change the settings while not running. */
int video_processor_commit_streams(struct video_processor *vp, const void *json, size_t len);

/* Drops outputs of the current video by stream id. -EPERM before create_streams() or while
 * the current video runs; -EINVAL for an id that has no output. With no output left, the
 * video goes back to "prepared" (create_streams() again). */
int video_processor_release_streams(struct video_processor *vp, const int *stream_ids, size_t n);

/* Starts processing id from timestamp_us (µs) on, in the background. timestamp 0 rewrites
 * the output from the first frame; a timestamp at or before the end of what an earlier run
 * of this id wrote into the same output appends to it from where it stopped (so after an
 * Interrupt, process(id, resume_timestamp) yields every frame exactly once); any other
 * timestamp rewrites the output starting at that frame. -ENOENT unknown id; -EPERM when
 * the id has no committed streams (not prepared since a restart, or reset()), is running,
 * or is done; -EINVAL timestamp past the end. */
int video_processor_process(struct video_processor *vp, const char *id, uint64_t timestamp_us);

/* Cancels id if running (no error callback), forgets it and deletes its record. -ENOENT. */
int video_processor_remove(struct video_processor *vp, const char *id);

/* Every running video stops at its next frame; its output is finished as a playable AVI,
 * its resume point saved, and error(id, "abort") follows. 0 even if nothing ran. */
int video_processor_interrupt(struct video_processor *vp);

/* Aborts all running work (as interrupt), closes every prepared input and output and
 * forgets committed settings; pending ids and resume points are kept. */
int video_processor_reset(struct video_processor *vp);

/* -ENOENT for an unknown id. */
int video_processor_get_info(struct video_processor *vp, const char *id, struct video_info *ret);

/* Ids not done (pending, running or error), oldest first, as a NULL-terminated malloc'd
 * array of malloc'd strings; free with video_processor_strv_free(). */
int video_processor_pending(struct video_processor *vp, char ***ret);
void video_processor_strv_free(char **strv);

/* Registers a video recorded with `deferred` as pending (or updates the metadata of a known
 * recording, e.g. the frame count at StopRecording). The client later prepares it with an
 * fd of the recorded file. An update of a known recording with frames 0 (stopped before
 * its first frame) forgets it: it cannot be processed. -EINVAL bad id or metadata, -EPERM
 * if the id is running. */
int video_processor_add_recorded(struct video_processor *vp, const char *id,
                                 const struct video_recorded *rec);

/* "ready" or "space-limit-reached". */
enum video_status video_processor_status(struct video_processor *vp);

/* Number of videos running now. */
unsigned video_processor_running_count(struct video_processor *vp);
