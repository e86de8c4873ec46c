/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/yuv.h"
#include "process/pool.h"
#include "process/video-processor.h"
#include "process/video-record.h"
#include "shared/macro.h"

struct avi_reader;
struct avi_writer;
struct video_run;

/* One video id: its persistent record plus what this daemon run holds for it. */
struct video_entry {
        struct video_entry *next;
        struct video_record rec;
        /* Session side (after prepare; dropped by reset, never persisted). */
        struct avi_reader *reader;
        struct video_stream_info *streams;
        size_t n_streams;
        int video_stream_id;
        bool has_output;
        int output_fd;
        int output_stream_id;
        int output_quality;
        bool committed;
        struct video_settings settings;
        /* Kept from the last run on this output, so a resume needs no reopen. */
        struct avi_writer *writer;
        struct yuv_image reference;
        bool have_reference;
        uint32_t reference_frame;
        /* While running. */
        struct video_run *run;
        struct ended_node *node;
};

/* A run's place in the processor's "ended" list, allocated before the run starts so that
 * ending never needs memory. */
struct ended_node {
        struct ended_node *next;
        struct video_processor *vp;
        struct video_run *run;
        uint64_t generation; /* unique per run of this processor; set before the run starts */
        bool ended;
};

struct video_processor {
        atomic_int n_ref;
        bool dead; /* video_processor_free() was called: letters only drop their reference */
        uid_t uid;
        char *dir_path;
        int dir_fd;
        struct worker_pool *pool;
        struct mailbox *mailbox;
        struct video_processor_callbacks cb;
        void *userdata;
        struct video_entry *entries; /* oldest first */
        struct video_entry *current; /* the video that Create/Commit/ReleaseStreams act on */
        enum video_status status;
        char message[512];
        uint64_t run_generation; /* of the newest run started */

        pthread_mutex_t lock; /* the ended list; shared with run threads */
        pthread_cond_t cond;
        struct ended_node *ended;
        unsigned n_running;
};

/* Internal to video-processor*.c: the shared state and helpers. Loop thread only unless
 * said otherwise. */

uint64_t video_realtime_us(void);
/* Sets the message of the last failure; returns error. */
_printf_(3, 4) int video_fail(struct video_processor *vp, int error, const char *format, ...);
struct video_entry *video_entry_find(struct video_processor *vp, const char *id);
int video_entry_save(struct video_processor *vp, struct video_entry *e);
void video_processor_set_status(struct video_processor *vp, enum video_status status);
void video_processor_pending_changed(struct video_processor *vp);
void video_entry_drop_output(struct video_entry *e);
void video_entry_drop_session(struct video_entry *e);
/* e holds descriptors: its input, its output or a run (which holds both). */
bool video_entry_holds_files(const struct video_entry *e);
void video_entry_free(struct video_entry *e);
int video_entry_new(struct video_processor *vp, const char *id, struct video_entry **ret);
void video_entry_unlink(struct video_processor *vp, struct video_entry *e);
/* Applies the results of every ended run (with or without callbacks). */
void video_processor_drain_ended(struct video_processor *vp, bool callbacks);
void video_entry_wait_run_ended(struct video_processor *vp, struct video_entry *e);
/* Stops every run and waits until each has ended (a frame's worth of time). */
void video_processor_stop_all(struct video_processor *vp, enum pool_cancel reason);
/* Starts a run of e from frame `from` writing through writer (taken on success). */
int video_entry_start_run(struct video_processor *vp, struct video_entry *e, uint32_t from,
                          struct avi_writer *writer, bool seed);
