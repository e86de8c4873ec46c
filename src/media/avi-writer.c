/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/avi-reader.h"
#include "media/avi-writer-internal.h"
#include "media/riff.h"
#include "media/yuv.h"
#include "shared/fd-util.h"
#include "shared/log.h"

static uint64_t riff_frames_total(const struct avi_writer *w) {
        return w->n_frames;
}

/* The whole header block [0, HEADER_SIZE), from the writer's state. */
static void build_header(const struct avi_writer *w, uint8_t *h) {
        uint32_t usec = (uint32_t) (((uint64_t) w->fps_den * 1000000 + w->fps_num / 2) / w->fps_num);
        uint64_t first_frames = w->n_riffs > 0 ? w->riffs[0].n_frames : 0;
        uint64_t total = riff_frames_total(w);
        uint32_t bufsize = w->max_frame_size + 8;
        unsigned in_use = 0;

        memset(h, 0, HEADER_SIZE);
        memcpy(h, "RIFF", 4);
        /* Size 0 while the first RIFF is open: readers then know the file is incomplete. */
        if (w->n_riffs > 0 && w->riffs[0].closed)
                wr32(h + OFF_RIFF_SIZE, (uint32_t) (w->riffs[0].end - 8));
        memcpy(h + 8, "AVI ", 4);

        memcpy(h + OFF_HDRL, "LIST", 4);
        wr32(h + OFF_HDRL + 4, HEADER_SIZE - OFF_HDRL - 8);
        memcpy(h + OFF_HDRL + 8, "hdrl", 4);

        uint8_t *a = h + OFF_AVIH;
        memcpy(a, "avih", 4);
        wr32(a + 4, 56);
        wr32(a + 8, usec);
        wr32(a + 12, (uint32_t) MIN((uint64_t) bufsize * w->fps_num / w->fps_den, UINT32_MAX));
        wr32(a + 20, AVIF_HASINDEX | AVIF_ISINTERLEAVED);
        /* OpenDML: avih counts the first RIFF only, dmlh all. 0 until finished. */
        wr32(a + 24, w->finished ? (uint32_t) first_frames : 0);
        wr32(a + 32, 1); /* streams */
        wr32(a + 36, bufsize);
        wr32(a + 40, w->width);
        wr32(a + 44, w->height);

        memcpy(h + OFF_STRL, "LIST", 4);
        wr32(h + OFF_STRL + 4, OFF_ODML - OFF_STRL - 8);
        memcpy(h + OFF_STRL + 8, "strl", 4);

        uint8_t *s = h + OFF_STRH;
        memcpy(s, "strh", 4);
        wr32(s + 4, 56);
        memcpy(s + 8, "vids", 4);
        memcpy(s + 12, "MJPG", 4);
        wr32(s + 28, w->fps_den);  /* dwScale */
        wr32(s + 32, w->fps_num);  /* dwRate */
        wr32(s + 40, (uint32_t) MIN(total, UINT32_MAX)); /* dwLength */
        wr32(s + 44, bufsize);
        wr32(s + 48, UINT32_MAX);  /* dwQuality: default */
        wr16(s + 60, (uint16_t) w->width);  /* rcFrame right */
        wr16(s + 62, (uint16_t) w->height); /* rcFrame bottom */

        uint8_t *f = h + OFF_STRF;
        memcpy(f, "strf", 4);
        wr32(f + 4, 40);
        wr32(f + 8, 40);
        wr32(f + 12, w->width);
        wr32(f + 16, w->height);
        wr16(f + 20, 1);  /* planes */
        wr16(f + 22, 24); /* bits per pixel once decoded */
        memcpy(f + 24, "MJPG", 4);
        wr32(f + 28, (uint32_t) MIN((uint64_t) w->width * w->height * 3, UINT32_MAX));

        uint8_t *x = h + OFF_INDX;
        memcpy(x, "indx", 4);
        wr32(x + 4, INDX_SIZE);
        wr16(x + 8, 4); /* longs per entry */
        x[10] = 0;      /* sub type */
        x[11] = 0;      /* AVI_INDEX_OF_INDEXES */
        memcpy(x + 16, "00dc", 4);
        for (unsigned i = 0; i < w->n_riffs; i++) {
                const struct avi_riff *r = &w->riffs[i];
                uint8_t *e = x + 32 + 16 * in_use;
                if (!r->closed)
                        continue;
                wr64(e, r->ix_offset);
                wr32(e + 8, r->ix_size);
                wr32(e + 12, (uint32_t) r->n_frames);
                in_use++;
        }
        wr32(x + 12, in_use);

        memcpy(h + OFF_ODML, "LIST", 4);
        wr32(h + OFF_ODML + 4, HEADER_SIZE - OFF_ODML - 8);
        memcpy(h + OFF_ODML + 8, "odml", 4);
        memcpy(h + OFF_DMLH, "dmlh", 4);
        wr32(h + OFF_DMLH + 4, DMLH_SIZE);
        wr32(h + OFF_DMLH + 8, w->finished ? (uint32_t) MIN(total, UINT32_MAX) : 0);
}

static int write_header(struct avi_writer *w) {
        uint8_t h[HEADER_SIZE];

        build_header(w, h);
        return fd_pwrite_all(w->fd, h, sizeof(h), 0);
}

/* Starts a RIFF at w->end: 'AVI ' + header for the first, 'AVIX' for the others, each with
 * an open (size 0) movi list. */
static int start_riff(struct avi_writer *w) {
        struct avi_riff *r;
        uint8_t h[24];
        int k;

        if (w->n_riffs >= AVI_MAX_RIFFS)
                return -EFBIG;
        r = &w->riffs[w->n_riffs];
        *r = (struct avi_riff) { .start = w->end, .first_frame = w->n_frames };

        if (w->n_riffs == 0) {
                w->n_riffs++;
                k = write_header(w);
                if (k < 0)
                        return k;
                r->movi = HEADER_SIZE;
                memcpy(h, "LIST", 4);
                wr32(h + 4, 0);
                memcpy(h + 8, "movi", 4);
                k = fd_pwrite_all(w->fd, h, 12, HEADER_SIZE);
                if (k < 0)
                        return k;
                w->end = HEADER_SIZE + 12;
                return 0;
        }

        memcpy(h, "RIFF", 4);
        wr32(h + 4, 0);
        memcpy(h + 8, "AVIX", 4);
        memcpy(h + 12, "LIST", 4);
        wr32(h + 16, 0);
        memcpy(h + 20, "movi", 4);
        k = fd_pwrite_all(w->fd, h, 24, (long long) w->end);
        if (k < 0)
                return k;
        r->movi = w->end + 12;
        w->end += 24;
        w->n_riffs++;
        return 0;
}

/* Writes RIFF r's ix00 index at pos (the end of its movi list), idx1 after it for the first
 * RIFF, then the list and RIFF sizes, and marks r closed. The data goes out before the sizes
 * that make it count, so a crash in between still leaves an "incomplete" file. */
int avi_writer_write_riff_index(struct avi_writer *w, struct avi_riff *r, uint64_t pos) {
        size_t ix_size = 32 + 8 * r->n_frames, idx1_size = 0;
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t sz[4];
        int k;

        if (r->start == 0)
                idx1_size = 8 + 16 * r->n_frames;
        buf = calloc(1, ix_size + idx1_size);
        if (!buf)
                return -ENOMEM;

        uint8_t *ix = buf;
        memcpy(ix, "ix00", 4);
        wr32(ix + 4, (uint32_t) (ix_size - 8));
        wr16(ix + 8, 2); /* longs per entry */
        ix[10] = 0;
        ix[11] = 1;      /* AVI_INDEX_OF_CHUNKS */
        wr32(ix + 12, (uint32_t) r->n_frames);
        memcpy(ix + 16, "00dc", 4);
        wr64(ix + 20, r->start); /* base offset */
        for (uint64_t i = 0; i < r->n_frames; i++) {
                const struct frame_entry *f = &w->frames[r->first_frame + i];
                wr32(ix + 32 + 8 * i, (uint32_t) (f->offset - r->start));
                wr32(ix + 36 + 8 * i, f->size); /* bit 31 clear: key frame */
        }

        if (idx1_size > 0) {
                uint8_t *x = buf + ix_size;
                uint64_t movi_fourcc = r->movi + 8;
                memcpy(x, "idx1", 4);
                wr32(x + 4, (uint32_t) (idx1_size - 8));
                for (uint64_t i = 0; i < r->n_frames; i++) {
                        const struct frame_entry *f = &w->frames[r->first_frame + i];
                        uint8_t *e = x + 8 + 16 * i;
                        memcpy(e, "00dc", 4);
                        wr32(e + 4, AVIIF_KEYFRAME);
                        /* Offsets of chunk headers from the "movi" FourCC. */
                        wr32(e + 8, (uint32_t) (f->offset - 8 - movi_fourcc));
                        wr32(e + 12, f->size);
                }
        }

        k = fd_pwrite_all(w->fd, buf, ix_size + idx1_size, (long long) pos);
        if (k < 0)
                return k;
        r->ix_offset = pos;
        r->ix_size = (uint32_t) ix_size;
        r->end = pos + ix_size + idx1_size;

        /* movi runs to the end of ix00; idx1 follows the list. */
        wr32(sz, (uint32_t) (pos + ix_size - r->movi - 8));
        k = fd_pwrite_all(w->fd, sz, 4, (long long) r->movi + 4);
        if (k < 0)
                return k;
        r->closed = true;
        if (r->start > 0) {
                wr32(sz, (uint32_t) (r->end - r->start - 8));
                k = fd_pwrite_all(w->fd, sz, 4, (long long) r->start + 4);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Closes the last RIFF at the end of the file. */
static int close_riff(struct avi_writer *w) {
        struct avi_riff *r = &w->riffs[w->n_riffs - 1];
        int k;

        k = avi_writer_write_riff_index(w, r, w->end);
        if (k < 0)
                return k;
        w->end = r->end;
        /* The first RIFF's size and the super index live in the header. */
        return write_header(w);
}

/* Undoes close_riff() of the last RIFF so more frames can follow: marks it open (sizes 0)
 * first, then cuts its indexes off. */
int avi_writer_reopen_last_riff(struct avi_writer *w) {
        struct avi_riff *r = &w->riffs[w->n_riffs - 1];
        uint8_t zero[4] = {};
        uint64_t end;
        int k;

        w->finished = false;
        r->closed = false;
        k = write_header(w);
        if (k < 0)
                return k;
        k = fd_pwrite_all(w->fd, zero, 4, (long long) r->movi + 4);
        if (k < 0)
                return k;
        if (r->start > 0) {
                k = fd_pwrite_all(w->fd, zero, 4, (long long) r->start + 4);
                if (k < 0)
                        return k;
        }
        if (r->n_frames > 0) {
                const struct frame_entry *f = &w->frames[r->first_frame + r->n_frames - 1];
                end = f->offset + riff_pad(f->size);
        } else
                end = r->movi + 12;
        if (ftruncate(w->fd, (off_t) end) < 0)
                return negative_errno();
        w->end = end;
        return 0;
}

static int check_params(const struct avi_writer_params *p) {
        if (p->width == 0 || p->height == 0 || p->width > MEDIA_MAX_SIDE ||
            p->height > MEDIA_MAX_SIDE || p->fps_num == 0 || p->fps_den == 0)
                return -EINVAL;
        if (p->riff_limit > MAX_RIFF_LIMIT)
                return -EINVAL;
        return 0;
}

int avi_writer_alloc(int fd, const struct avi_writer_params *p, struct avi_writer **ret) {
        struct avi_writer *w;
        const char *reason;
        int k;

        k = check_params(p);
        if (k < 0)
                return k;
        k = fd_check_regular_file(fd, FD_NEED_WRITE, &reason);
        if (k < 0)
                return log_debug_errno(k, "AVI output file descriptor %s", reason);
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->fd = fd_dup_cloexec(fd);
        if (w->fd < 0) {
                k = w->fd;
                free(w);
                return k;
        }
        w->width = p->width;
        w->height = p->height;
        w->fps_num = p->fps_num;
        w->fps_den = p->fps_den;
        w->riff_limit = p->riff_limit ? p->riff_limit : AVI_DEFAULT_RIFF_LIMIT;
        *ret = w;
        return 0;
}

int avi_writer_new(int fd, const struct avi_writer_params *params, struct avi_writer **ret) {
        _cleanup_(avi_writer_freep) struct avi_writer *w = NULL;
        int k;

        k = avi_writer_alloc(fd, params, &w);
        if (k < 0)
                return k;
        if (ftruncate(w->fd, 0) < 0)
                return negative_errno();
        k = start_riff(w);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(w);
        return 0;
}

int avi_writer_push_frame(struct avi_writer *w, struct avi_riff *r, uint64_t offset, uint32_t size) {
        if (w->n_frames == w->allocated) {
                uint64_t n = MAX(w->allocated * 2, (uint64_t) 256);
                struct frame_entry *f = reallocarray(w->frames, n, sizeof(*f));
                if (!f)
                        return -ENOMEM;
                w->frames = f;
                w->allocated = n;
        }
        w->frames[w->n_frames++] = (struct frame_entry) { .offset = offset, .size = size };
        r->n_frames++;
        w->max_frame_size = MAX(w->max_frame_size, size);
        return 0;
}

int avi_writer_add_frame(struct avi_writer *w, const void *jpeg, size_t size) {
        static const uint8_t pad = 0;
        struct avi_riff *r;
        uint8_t h[8];
        uint64_t chunk = 8 + riff_pad(size), projected;
        int k;

        if (size == 0 || size > AVI_MAX_FRAME_SIZE)
                return size == 0 ? -EINVAL : -E2BIG;
        if (w->finished) {
                k = avi_writer_reopen_last_riff(w);
                if (k < 0)
                        return k;
        }

        /* Would this frame plus the indexes closing the RIFF pass the limit? */
        r = &w->riffs[w->n_riffs - 1];
        projected = w->end + chunk + 32 + 8 * (r->n_frames + 1) - r->start;
        if (r->start == 0)
                projected += 8 + 16 * (r->n_frames + 1);
        if (r->n_frames > 0 && projected > w->riff_limit) {
                if (w->n_riffs >= AVI_MAX_RIFFS)
                        return -EFBIG;
                k = close_riff(w);
                if (k < 0)
                        return k;
                k = start_riff(w);
                if (k < 0)
                        return k;
        }

        memcpy(h, "00dc", 4);
        wr32(h + 4, (uint32_t) size);
        k = fd_pwrite_all(w->fd, h, 8, (long long) w->end);
        if (k < 0)
                return k;
        k = fd_pwrite_all(w->fd, jpeg, size, (long long) w->end + 8);
        if (k < 0)
                return k;
        if (size & 1) {
                k = fd_pwrite_all(w->fd, &pad, 1, (long long) (w->end + 8 + size));
                if (k < 0)
                        return k;
        }
        k = avi_writer_push_frame(w, &w->riffs[w->n_riffs - 1], w->end + 8, (uint32_t) size);
        if (k < 0)
                return k;
        w->end += chunk;
        return 0;
}

int avi_writer_set_frame_rate(struct avi_writer *w, unsigned fps_num, unsigned fps_den) {
        if (fps_num == 0 || fps_den == 0)
                return -EINVAL;
        w->fps_num = fps_num;
        w->fps_den = fps_den;
        return 0;
}

uint64_t avi_writer_frame_count(const struct avi_writer *w) {
        return w->n_frames;
}

uint64_t avi_writer_file_size(const struct avi_writer *w) {
        return w->end;
}

int avi_writer_finish(struct avi_writer *w) {
        int k;

        if (w->finished)
                return 0;
        /* finished first, so that close_riff()'s header carries the final counts. */
        w->finished = true;
        k = close_riff(w);
        if (k < 0) {
                w->finished = false;
                return k;
        }
        return 0;
}

struct avi_writer *avi_writer_free(struct avi_writer *w) {
        if (!w)
                return NULL;
        safe_close(w->fd);
        free(w->frames);
        free(w);
        return NULL;
}
