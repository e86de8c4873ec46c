/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media/avi-reader.h"
#include "media/avi-index.h"
#include "media/riff.h"
#include "media/yuv.h"
#include "shared/fd-util.h"
#include "shared/log.h"

/* hdrl is a few KiB in practice (ffmpeg reserves ~4 KiB of OpenDML super index per stream). */
#define HDRL_MAX_SIZE (1u << 20)

int avi_reader_fail(struct avi_reader *r, int err, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(r->error, sizeof(r->error), format, ap);
        va_end(ap);
        return err;
}

int avi_read_at(struct avi_reader *r, void *buf, size_t size, uint64_t offset) {
        if (offset > r->file_size || size > r->file_size - offset)
                return -EBADMSG;
        return fd_pread_all(r->fd, buf, size, (long long) offset);
}

int avi_chunk_at(struct avi_reader *r, uint64_t pos, uint64_t end, struct riff_chunk *c) {
        uint8_t h[8];

        if (pos + 8 > end)
                return 0;
        if (avi_read_at(r, h, 8, pos) < 0)
                return avi_reader_fail(r, -EBADMSG, "cannot read chunk header at offset %llu",
                                       (unsigned long long) pos);
        *c = (struct riff_chunk) { .pos = pos, .id = rd32(h), .len = rd32(h + 4) };
        c->is_list = c->id == FOURCC('L', 'I', 'S', 'T');
        if (c->is_list && pos + 12 <= end) {
                if (avi_read_at(r, h, 4, pos + 8) < 0)
                        return avi_reader_fail(r, -EBADMSG, "cannot read list at offset %llu",
                                               (unsigned long long) pos);
                c->has_type = true;
                c->list_type = rd32(h);
        }
        return 1;
}

static bool is_mjpeg_codec(uint32_t fcc) {
        static const uint32_t mjpeg[] = {
                FOURCC('M', 'J', 'P', 'G'), FOURCC('m', 'j', 'p', 'g'), FOURCC('A', 'V', 'R', 'n'),
                FOURCC('L', 'J', 'P', 'G'), FOURCC('J', 'P', 'E', 'G'), FOURCC('j', 'p', 'e', 'g'),
                FOURCC('d', 'm', 'b', '1'), FOURCC('M', 'J', 'P', 'A'),
        };
        for (size_t i = 0; i < ELEMENTSOF(mjpeg); i++)
                if (fcc == mjpeg[i])
                        return true;
        return false;
}

/* Parses one strl list held in memory (p, size). */
static int parse_strl(struct avi_reader *r, const uint8_t *p, size_t size) {
        struct avi_stream_info *s;
        struct avi_stream_state *st;
        size_t pos = 0;
        bool have_strh = false;
        uint32_t handler = 0, compression = 0;

        if (r->n_streams >= AVI_MAX_STREAMS)
                return avi_reader_fail(r, -EBADMSG, "more than %u streams", AVI_MAX_STREAMS);
        s = &r->streams[r->n_streams];
        st = &r->stream_state[r->n_streams];
        *s = (struct avi_stream_info) { .id = r->n_streams };
        *st = (struct avi_stream_state) {};

        while (pos + 8 <= size) {
                uint32_t id = rd32(p + pos), len = rd32(p + pos + 4);
                const uint8_t *d = p + pos + 8;

                if (len > size - pos - 8)
                        return avi_reader_fail(r, -EBADMSG, "stream %u header chunk is truncated",
                                    r->n_streams);
                if (id == FOURCC('s', 't', 'r', 'h') && len >= 36) {
                        uint32_t type = rd32(d);
                        have_strh = true;
                        fourcc_to_string(type, s->fcc_type);
                        handler = rd32(d + 4);
                        s->scale = rd32(d + 20);
                        s->rate = rd32(d + 24);
                        s->length = rd32(d + 32);
                        s->type = type == FOURCC('v', 'i', 'd', 's')   ? AVI_STREAM_VIDEO
                                  : type == FOURCC('a', 'u', 'd', 's') ? AVI_STREAM_AUDIO
                                                                       : AVI_STREAM_METADATA;
                } else if (id == FOURCC('s', 't', 'r', 'f') && have_strh &&
                           s->type == AVI_STREAM_VIDEO && len >= 20) {
                        int32_t w = (int32_t) rd32(d + 4), h = (int32_t) rd32(d + 8);
                        /* A negative height marks a top-down bitmap. */
                        s->width = w < 0 ? 0 : (unsigned) w;
                        s->height = h == INT32_MIN ? 0 : (unsigned) (h < 0 ? -h : h);
                        compression = rd32(d + 16);
                } else if (id == FOURCC('i', 'n', 'd', 'x') && len >= 24) {
                        uint16_t longs = rd16(d);
                        uint8_t type = d[3];
                        uint32_t in_use = rd32(d + 4);
                        /* Only a super index (index of indexes) with 16-byte entries. */
                        if (type == 0 && longs == 4) {
                                st->super_index_entries = MIN(in_use, (len - 24) / 16);
                                st->super_index_offset = (size_t) (d + 24 - p);
                                st->has_super_index = true;
                        }
                }
                pos += 8 + riff_pad(len);
        }
        if (!have_strh)
                return avi_reader_fail(r, -EBADMSG, "stream %u has no strh header", r->n_streams);

        st->codec = s->type == AVI_STREAM_VIDEO && compression ? compression : handler;
        /* Audio streams usually leave the handler 0: say nothing rather than "????". */
        if (st->codec != 0)
                fourcc_to_string(st->codec, s->codec);
        st->handler = handler;
        r->n_streams++;
        return 0;
}

/* Parses the hdrl list at offset (its payload after "hdrl"), size bytes. */
static int parse_hdrl(struct avi_reader *r, uint64_t offset, uint32_t size) {
        size_t pos = 0;
        int k;

        if (size > HDRL_MAX_SIZE)
                return avi_reader_fail(r, -EBADMSG, "header list is implausibly large (%u bytes)", size);
        r->hdrl = malloc(size ? size : 1);
        if (!r->hdrl)
                return -ENOMEM;
        r->hdrl_size = size;
        r->hdrl_offset = offset;
        k = avi_read_at(r, r->hdrl, size, offset);
        if (k < 0)
                return avi_reader_fail(r, -EBADMSG, "header list is truncated");

        while (pos + 8 <= size) {
                uint32_t id = rd32(r->hdrl + pos), len = rd32(r->hdrl + pos + 4);
                const uint8_t *d = r->hdrl + pos + 8;

                if (len > size - pos - 8)
                        return avi_reader_fail(r, -EBADMSG, "header chunk at offset %llu is truncated",
                                    (unsigned long long) (offset + pos));
                if (id == FOURCC('a', 'v', 'i', 'h') && len >= 40) {
                        r->avih_usec_per_frame = rd32(d);
                        r->avih_total_frames = rd32(d + 16);
                        r->avih_width = rd32(d + 32);
                        r->avih_height = rd32(d + 36);
                        r->have_avih = true;
                } else if (id == FOURCC('L', 'I', 'S', 'T') && len >= 4) {
                        uint32_t type = rd32(d);
                        if (type == FOURCC('s', 't', 'r', 'l')) {
                                k = parse_strl(r, d + 4, len - 4);
                                if (k < 0)
                                        return k;
                                /* Super index offsets so far are relative to the strl. */
                                struct avi_stream_state *st = &r->stream_state[r->n_streams - 1];
                                st->super_index_offset += (size_t) (d + 4 - r->hdrl);
                        } else if (type == FOURCC('o', 'd', 'm', 'l') && len >= 4 + 12 &&
                                   rd32(d + 4) == FOURCC('d', 'm', 'l', 'h') &&
                                   rd32(d + 8) >= 4) {
                                r->dmlh_total_frames = rd32(d + 12);
                                r->have_dmlh = true;
                        }
                }
                pos += 8 + riff_pad(len);
        }
        if (!r->have_avih)
                return avi_reader_fail(r, -EBADMSG, "no avih main header");
        return 0;
}

/* Walks the chunks of one RIFF (payload [start, end)) recording hdrl, movi and idx1. */
static int parse_riff_body(struct avi_reader *r, uint64_t start, uint64_t end, bool first) {
        struct riff_chunk c;
        uint64_t pos = start;
        int k;

        /* Each step advances by at least 8 bytes, so this ends. */
        while ((k = avi_chunk_at(r, pos, end, &c)) > 0) {
                if (c.is_list) {
                        uint64_t list_end = pos + 8 + (uint64_t) c.len;

                        if (!c.has_type)
                                break;
                        if (c.list_type == FOURCC('m', 'o', 'v', 'i')) {
                                struct avi_movi *m;

                                if (r->n_movi >= AVI_READER_MAX_RIFFS)
                                        return avi_reader_fail(r, -EBADMSG, "too many movi lists");
                                m = &r->movi[r->n_movi++];
                                m->fourcc_offset = pos + 8;
                                /* Size 0 (an interrupted writer) or past the end: the list
                                 * runs to the end of its RIFF, and the file is incomplete. */
                                if (c.len < 4 || list_end > end) {
                                        m->end = end;
                                        r->complete = false;
                                } else
                                        m->end = list_end;
                                pos = riff_pad(m->end);
                                continue;
                        }
                        if (c.len < 4) {
                                if (c.list_type == FOURCC('h', 'd', 'r', 'l'))
                                        return avi_reader_fail(r, -EBADMSG, "header list has no room");
                                pos = riff_chunk_next(&c);
                                continue;
                        }
                        if (list_end > end) {
                                if (c.list_type == FOURCC('h', 'd', 'r', 'l'))
                                        return avi_reader_fail(r, -EBADMSG,
                                                    "header list runs past the end of the file");
                                r->complete = false;
                                break;
                        }
                        if (c.list_type == FOURCC('h', 'd', 'r', 'l') && first && !r->hdrl) {
                                k = parse_hdrl(r, pos + 12, c.len - 4);
                                if (k < 0)
                                        return k;
                        }
                } else if (riff_chunk_is_torn(&c, end)) {
                        /* A torn chunk (idx1 or junk) at the end: ignore it. */
                        r->complete = false;
                        break;
                } else if (c.id == FOURCC('i', 'd', 'x', '1') && first) {
                        r->idx1_offset = pos + 8;
                        r->idx1_size = c.len;
                        r->have_idx1 = true;
                }
                pos = riff_chunk_next(&c);
        }
        return k < 0 ? k : 0;
}

/* Finds every RIFF of the file: 'AVI ' first, then OpenDML 'AVIX' extensions. */
static int parse_riffs(struct avi_reader *r) {
        uint64_t pos = 0;
        uint8_t h[12];
        char t[5];
        int k;

        r->complete = true;
        for (unsigned n = 0; n < AVI_READER_MAX_RIFFS && pos + 12 <= r->file_size; n++) {
                uint32_t size, form;
                uint64_t end;

                k = avi_read_at(r, h, 12, pos);
                if (k < 0)
                        return avi_reader_fail(r, -EBADMSG, "cannot read RIFF header at %llu",
                                    (unsigned long long) pos);
                size = rd32(h + 4);
                form = rd32(h + 8);
                if (rd32(h) != FOURCC('R', 'I', 'F', 'F')) {
                        if (n == 0)
                                return avi_reader_fail(r, -EBADMSG, "not a RIFF AVI file");
                        break; /* Trailing data after the last RIFF. */
                }
                if (n == 0 && form != FOURCC('A', 'V', 'I', ' '))
                        return avi_reader_fail(r, -EBADMSG, "not a RIFF AVI file (RIFF form '%s')",
                                    fourcc_to_string(form, t));
                if (n > 0 && form != FOURCC('A', 'V', 'I', 'X'))
                        break;

                end = pos + 8 + (uint64_t) size;
                if (size < 4 || end > r->file_size) {
                        end = r->file_size;
                        r->complete = false;
                }
                k = parse_riff_body(r, pos + 12, end, n == 0);
                if (k < 0)
                        return k;
                if (!r->complete)
                        break;
                pos = riff_pad(end);
        }
        if (r->file_size < 12)
                return avi_reader_fail(r, -EBADMSG, "not a RIFF AVI file (only %llu bytes)",
                            (unsigned long long) r->file_size);
        return 0;
}

static int choose_video_stream(struct avi_reader *r) {
        const struct avi_stream_info *s;
        char t[5];

        for (unsigned i = 0; i < r->n_streams; i++)
                if (r->streams[i].type == AVI_STREAM_VIDEO) {
                        r->video = i;
                        goto found;
                }
        return avi_reader_fail(r, -EBADMSG, "no video stream");
found:
        s = &r->streams[r->video];
        if (!is_mjpeg_codec(r->stream_state[r->video].codec) &&
            !is_mjpeg_codec(r->stream_state[r->video].handler))
                return avi_reader_fail(r, -EBADMSG, "codec is %s, not MJPG",
                            fourcc_to_string(r->stream_state[r->video].codec, t));
        r->width = s->width ? s->width : r->avih_width;
        r->height = s->height ? s->height : r->avih_height;
        if (r->width == 0 || r->height == 0 || r->width > MEDIA_MAX_SIDE ||
            r->height > MEDIA_MAX_SIDE)
                return avi_reader_fail(r, -EBADMSG, "picture size %ux%u is out of range", r->width,
                            r->height);
        r->streams[r->video].width = r->width;
        r->streams[r->video].height = r->height;

        if (s->rate > 0 && s->scale > 0) {
                r->rate = s->rate;
                r->scale = s->scale;
        } else if (r->avih_usec_per_frame > 0) {
                r->rate = 1000000;
                r->scale = r->avih_usec_per_frame;
        } else
                return avi_reader_fail(r, -EBADMSG, "no frame rate in the headers");
        return 0;
}

/* The largest frame count the headers promise for the video stream: avih dwTotalFrames
 * (OpenDML writers count only the first RIFF there), strh dwLength, dmlh dwTotalFrames. */
static uint64_t declared_frames(const struct avi_reader *r) {
        uint64_t n = r->avih_total_frames;

        n = MAX(n, r->streams[r->video].length);
        if (r->have_dmlh)
                n = MAX(n, (uint64_t) r->dmlh_total_frames);
        return n;
}

/* A file cut short (a RIFF or list runs past its end) that promises more frames than it
 * holds lost frames: refuse it rather than pass a fragment off as the video. Our own
 * interrupted recordings stay readable: their writer leaves avih and dmlh at 0 and strh
 * at the frames already on disk until finish(), so they promise no more than they hold.
 * A structurally whole file is not judged by its counts, because zero-sized "drop" chunks
 * are counted by the headers but are not frames. */
static int check_not_truncated(struct avi_reader *r) {
        uint64_t declared = declared_frames(r);

        if (r->complete || declared <= r->n_frames)
                return 0;
        return avi_reader_fail(r, -EBADMSG,
                               "truncated: the header lists %llu frames, the file holds %llu whole frame%s "
                               "(ends at byte %llu)",
                               (unsigned long long) declared, (unsigned long long) r->n_frames,
                               r->n_frames == 1 ? "" : "s", (unsigned long long) r->file_size);
}

int avi_reader_open_full(int fd, bool allow_empty, struct avi_reader **ret, char *error,
                         size_t error_size) {
        _cleanup_(avi_reader_freep) struct avi_reader *r = NULL;
        const char *reason;
        struct stat st;
        int k;

        if (error && error_size > 0)
                error[0] = 0;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->fd = -1;

        k = fd_check_regular_file(fd, FD_NEED_READ, &reason);
        if (k < 0) {
                avi_reader_fail(r, k, "the file descriptor %s", reason);
                goto error;
        }
        r->fd = fd_dup_cloexec(fd);
        if (r->fd < 0) {
                k = avi_reader_fail(r, r->fd, "cannot duplicate the file descriptor");
                goto error;
        }
        if (fstat(r->fd, &st) < 0) {
                k = avi_reader_fail(r, negative_errno(), "cannot examine the file");
                goto error;
        }
        r->file_size = (uint64_t) st.st_size;

        k = parse_riffs(r);
        if (k < 0)
                goto error;
        if (!r->hdrl) {
                k = avi_reader_fail(r, -EBADMSG, "no hdrl header list");
                goto error;
        }
        if (r->n_movi == 0) {
                k = avi_reader_fail(r, -EBADMSG, "no movi list");
                goto error;
        }
        k = choose_video_stream(r);
        if (k < 0)
                goto error;
        k = avi_index_build(r);
        if (k < 0)
                goto error;
        k = check_not_truncated(r);
        if (k < 0)
                goto error;
        if (r->n_frames == 0 && !allow_empty) {
                /* Its own errno: an empty recording is not a damaged file. */
                k = avi_reader_fail(r, -ENODATA, "no frames");
                goto error;
        }
        /* Report the counts we can prove, not what the headers claim. */
        r->streams[r->video].length = r->n_frames;

        *ret = TAKE_PTR(r);
        return 0;

error:
        if (error && error_size > 0)
                snprintf(error, error_size, "%s", r->error);
        log_debug("avi: %s", r->error);
        return k;
}

int avi_reader_open(int fd, struct avi_reader **ret, char *error, size_t error_size) {
        return avi_reader_open_full(fd, false, ret, error, error_size);
}

struct avi_reader *avi_reader_free(struct avi_reader *r) {
        if (!r)
                return NULL;
        safe_close(r->fd);
        free(r->hdrl);
        free(r->frames);
        free(r);
        return NULL;
}

unsigned avi_reader_n_streams(const struct avi_reader *r) {
        return r->n_streams;
}

const struct avi_stream_info *avi_reader_stream(const struct avi_reader *r, unsigned i) {
        return i < r->n_streams ? &r->streams[i] : NULL;
}

unsigned avi_reader_video_stream(const struct avi_reader *r) {
        return r->video;
}

uint64_t avi_reader_frame_count(const struct avi_reader *r) {
        return r->n_frames;
}

void avi_reader_frame_rate(const struct avi_reader *r, uint32_t *rate, uint32_t *scale) {
        *rate = r->rate;
        *scale = r->scale;
}

double avi_reader_fps(const struct avi_reader *r) {
        return (double) r->rate / r->scale;
}

uint64_t avi_reader_frame_time_us(const struct avi_reader *r, uint64_t i) {
        /* i < 2^61 and scale < 2^32: 128-bit intermediate avoids overflow. */
        unsigned __int128 t = (unsigned __int128) i * r->scale * 1000000u;
        return (uint64_t) (t / r->rate);
}

uint64_t avi_reader_duration_us(const struct avi_reader *r) {
        return avi_reader_frame_time_us(r, r->n_frames);
}

bool avi_reader_is_complete(const struct avi_reader *r) {
        return r->complete;
}

bool avi_reader_is_opendml(const struct avi_reader *r) {
        return r->opendml;
}

int avi_reader_frame_location(const struct avi_reader *r, uint64_t i, uint64_t *ret_offset,
                              uint32_t *ret_size) {
        if (i >= r->n_frames)
                return -ERANGE;
        *ret_offset = r->frames[i].offset;
        *ret_size = r->frames[i].size;
        return 0;
}

int avi_reader_frame_size(const struct avi_reader *r, uint64_t i, size_t *ret) {
        if (i >= r->n_frames)
                return -ERANGE;
        *ret = r->frames[i].size;
        return 0;
}

int avi_reader_read_frame(struct avi_reader *r, uint64_t i, void *buf, size_t size) {
        const struct avi_frame_entry *f;
        const uint8_t *b = buf;
        int k;

        if (i >= r->n_frames)
                return avi_reader_fail(r, -ERANGE, "frame %llu does not exist (the file has %llu)",
                            (unsigned long long) i, (unsigned long long) r->n_frames);
        f = &r->frames[i];
        if (size < f->size)
                return avi_reader_fail(r, -ENOBUFS, "buffer too small for frame %llu",
                            (unsigned long long) i);
        k = fd_pread_all(r->fd, buf, f->size, (long long) f->offset);
        if (k == -EIO)
                return avi_reader_fail(r, -EBADMSG, "frame %llu is cut short (the file shrank?)",
                            (unsigned long long) i);
        if (k < 0)
                return avi_reader_fail(r, k, "cannot read frame %llu: %s", (unsigned long long) i,
                            strerror(-k));
        if (f->size < 2 || b[0] != 0xFF || b[1] != 0xD8)
                return avi_reader_fail(r, -EBADMSG, "frame %llu is not a JPEG image",
                            (unsigned long long) i);
        r->error[0] = 0;
        return (int) f->size;
}

const char *avi_reader_error(const struct avi_reader *r) {
        return r->error;
}
