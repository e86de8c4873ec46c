/* SPDX-License-Identifier: MIT */
/* Reopening a file of ours to add frames: after finish() or after a crash. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "media/avi-index.h"
#include "media/avi-writer-internal.h"
#include "media/riff.h"
#include "shared/fd-util.h"

static bool is_our_header(const uint8_t *h) {
        static const struct {
                unsigned offset;
                char fourcc[5];
        } marks[] = {
                { 0, "RIFF" },        { 8, "AVI " },        { OFF_HDRL, "LIST" },
                { OFF_HDRL + 8, "hdrl" }, { OFF_AVIH, "avih" }, { OFF_STRL + 8, "strl" },
                { OFF_STRH, "strh" }, { OFF_STRH + 8, "vids" }, { OFF_STRF, "strf" },
                { OFF_STRF + 24, "MJPG" }, { OFF_INDX, "indx" }, { OFF_ODML + 8, "odml" },
                { OFF_DMLH, "dmlh" },
        };
        for (size_t i = 0; i < ELEMENTSOF(marks); i++)
                if (memcmp(h + marks[i].offset, marks[i].fourcc, 4) != 0)
                        return false;
        return rd32(h + OFF_INDX + 4) == INDX_SIZE && rd32(h + OFF_DMLH + 4) == DMLH_SIZE;
}

/* Rebuilds the RIFF list of a file of ours: closed RIFFs take their ix00 from the super
 * index; the walk stops at an open (size 0) RIFF or the end of the file. */
static int load_riffs(struct avi_writer *w, const uint8_t *header, uint64_t file_size) {
        uint32_t in_use = rd32(header + OFF_INDX + 12);
        uint64_t pos = 0;

        while (w->n_riffs < AVI_MAX_RIFFS && pos + 12 <= file_size) {
                struct avi_riff *r = &w->riffs[w->n_riffs];
                uint8_t h[12];
                uint32_t size;
                int k;

                k = fd_pread_all(w->fd, h, 12, (long long) pos);
                if (k < 0)
                        return k;
                if (memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, w->n_riffs ? "AVIX" : "AVI ", 4) != 0)
                        break;
                size = rd32(h + 4);
                *r = (struct avi_riff) {
                        .start = pos,
                        .movi = w->n_riffs == 0 ? HEADER_SIZE : pos + 12,
                };
                w->n_riffs++;
                if (size == 0 || pos + 8 + size > file_size)
                        break; /* open: the last one */
                if (w->n_riffs > in_use)
                        return -EBADMSG; /* closed but not in the super index */
                const uint8_t *e = header + OFF_INDX + 32 + 16 * (w->n_riffs - 1);
                r->ix_offset = rd64(e);
                r->ix_size = rd32(e + 8);
                r->n_frames = rd32(e + 12); /* checked against the frames found later */
                r->end = pos + 8 + size;
                r->closed = true;
                pos = riff_pad(r->end);
        }
        return w->n_riffs > 0 ? 0 : -EBADMSG;
}

/* True when RIFF r's movi list header sits where our writer puts it. */
static bool movi_where_expected(struct avi_writer *w, const struct avi_riff *r) {
        uint8_t h[12];

        return fd_pread_all(w->fd, h, 12, (long long) r->movi) >= 0 && memcmp(h, "LIST", 4) == 0 &&
               memcmp(h + 8, "movi", 4) == 0;
}

/* Hands every frame the reader found to the RIFF that holds it, and checks that the file is
 * laid out as our writer lays it out: frames in order inside their movi lists, and each
 * closed RIFF's ix00 right after its frames, listing exactly them. Appending to anything
 * else would produce a file that does not read back. */
static int assign_frames(struct avi_writer *w, struct avi_reader *reader) {
        uint64_t previous_end = 0, expected[AVI_MAX_RIFFS];
        unsigned ri = 0;
        int k;

        for (unsigned i = 0; i < w->n_riffs; i++) {
                expected[i] = w->riffs[i].n_frames;
                w->riffs[i].n_frames = 0;
                if (!movi_where_expected(w, &w->riffs[i]))
                        return -EBADMSG;
        }
        for (uint64_t i = 0; i < avi_reader_frame_count(reader); i++) {
                uint64_t offset;
                uint32_t size;

                (void) avi_reader_frame_location(reader, i, &offset, &size);
                while (ri + 1 < w->n_riffs && offset >= w->riffs[ri + 1].start)
                        w->riffs[++ri].first_frame = w->n_frames;
                const struct avi_riff *r = &w->riffs[ri];
                if (offset < previous_end || offset < r->movi + 12 + 8 ||
                    (r->closed && offset + size > r->ix_offset))
                        return -EBADMSG;
                previous_end = offset + size;
                k = avi_writer_push_frame(w, &w->riffs[ri], offset, size);
                if (k < 0)
                        return k;
        }
        while (ri + 1 < w->n_riffs)
                w->riffs[++ri].first_frame = w->n_frames;

        /* Closed RIFFs keep their place: ix00 right after the last frame, idx1 (first RIFF)
         * after it, nothing else. Their index contents are rewritten from the frames found,
         * so an index damaged while the data is whole does not survive into the result. */
        for (unsigned i = 0; i + 1 < w->n_riffs; i++) {
                struct avi_riff *r = &w->riffs[i];
                uint64_t data_end = r->movi + 12, idx1_size = r->start == 0 ? 8 + 16 * r->n_frames : 0;

                if (r->n_frames > 0) {
                        const struct frame_entry *f = &w->frames[r->first_frame + r->n_frames - 1];
                        data_end = f->offset + riff_pad(f->size);
                }
                if (r->n_frames != expected[i] || r->ix_offset != data_end ||
                    r->ix_offset + 32 + 8 * r->n_frames + idx1_size != r->end)
                        return -EBADMSG;
                k = avi_writer_write_riff_index(w, r, r->ix_offset);
                if (k < 0)
                        return k;
        }
        return 0;
}

int avi_writer_open_append(int fd, uint64_t riff_limit, struct avi_writer **ret, char *error,
                           size_t error_size) {
        _cleanup_(avi_reader_freep) struct avi_reader *reader = NULL;
        _cleanup_(avi_writer_freep) struct avi_writer *w = NULL;
        uint8_t header[HEADER_SIZE];
        struct stat st;
        int k;

        k = avi_reader_open_full(fd, true, &reader, error, error_size);
        if (k < 0)
                return k;
        k = fd_pread_all(fd, header, sizeof(header), 0);
        if (k < 0 || !is_our_header(header)) {
                if (error && error_size > 0)
                        snprintf(error, error_size, "not a file written by camerad's AVI writer");
                return -EBADMSG;
        }

        struct avi_writer_params p = {
                .width = rd32(header + OFF_AVIH + 40),
                .height = rd32(header + OFF_AVIH + 44),
                .fps_den = rd32(header + OFF_STRH + 28),
                .fps_num = rd32(header + OFF_STRH + 32),
                .riff_limit = riff_limit,
        };
        k = avi_writer_alloc(fd, &p, &w);
        if (k < 0) {
                if (error && error_size > 0)
                        snprintf(error, error_size, "the file cannot be reopened for writing");
                return k;
        }
        if (fstat(w->fd, &st) < 0)
                return negative_errno();
        k = load_riffs(w, header, (uint64_t) st.st_size);
        if (k < 0) {
                if (error && error_size > 0)
                        snprintf(error, error_size, "the RIFF chain of the file is damaged");
                return k;
        }

        k = assign_frames(w, reader);
        if (k < 0) {
                if (error && error_size > 0)
                        snprintf(error, error_size, "the file is not laid out as camerad writes it");
                return k;
        }

        /* The last RIFF takes the new frames; cut whatever follows its last frame. */
        w->finished = false;
        k = avi_writer_reopen_last_riff(w);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(w);
        return 0;
}
