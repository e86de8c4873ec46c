/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "media/avi-index.h"
#include "media/riff.h"
#include "shared/fd-util.h"

/* Index entries are read in batches of this many bytes, whatever the index claims. */
#define INDEX_BATCH 32768

static bool is_video_chunk(const struct avi_reader *r, uint32_t id) {
        return id == stream_chunk_id(r->video, 'd', 'c') || id == stream_chunk_id(r->video, 'd', 'b');
}

/* Records one frame. entry is the index entry number, for messages. Zero-sized chunks are
 * "drop frame" markers, not pictures. */
static int add_frame(struct avi_reader *r, uint64_t offset, uint32_t size, uint64_t entry) {
        /* Every frame needs at least its 8-byte chunk header in the file. */
        uint64_t max_frames = r->file_size / 8 + 1;

        if (size == 0)
                return 0;
        if (size > AVI_MAX_FRAME_SIZE)
                return avi_reader_fail(r, -EBADMSG,
                                       "index entry %llu is a %u byte frame, over the %u byte limit",
                                       (unsigned long long) entry, size, AVI_MAX_FRAME_SIZE);
        if (offset < 8 || offset > r->file_size || size > r->file_size - offset)
                return avi_reader_fail(r, -EBADMSG,
                                       "index entry %llu points past the end of the file",
                                       (unsigned long long) entry);
        if (r->n_frames >= max_frames)
                return avi_reader_fail(r, -EBADMSG,
                                       "the index lists more frames than the file can hold");
        if (r->n_frames == r->allocated) {
                uint64_t n = MIN(MAX(r->allocated * 2, (uint64_t) 64), max_frames);
                struct avi_frame_entry *f = reallocarray(r->frames, n, sizeof(*f));
                if (!f)
                        return -ENOMEM;
                r->frames = f;
                r->allocated = n;
        }
        r->frames[r->n_frames++] = (struct avi_frame_entry) { .offset = offset, .size = size };
        return 0;
}

/* OpenDML: the strl's super index lists standard index chunks (ix00), each listing frames as
 * 32-bit offsets from its own base. */
static int build_from_super_index(struct avi_reader *r) {
        const struct avi_stream_state *st = &r->stream_state[r->video];
        const uint8_t *e = r->hdrl + st->super_index_offset;
        _cleanup_free_ uint8_t *batch = malloc(INDEX_BATCH);
        uint64_t entry_no = 0;
        int k;

        if (!batch)
                return -ENOMEM;

        for (uint32_t i = 0; i < st->super_index_entries; i++, e += 16) {
                uint64_t ix = rd64(e), base;
                uint8_t h[32];
                uint32_t id, len, n;

                k = avi_read_at(r, h, sizeof(h), ix);
                if (k < 0)
                        return avi_reader_fail(r, -EBADMSG,
                                               "super index entry %u points past the end of the file",
                                               i);
                id = rd32(h);
                len = rd32(h + 4);
                /* "ix00" (stream number last) or "00ix". */
                if (!((h[0] == 'i' && h[1] == 'x') || (h[2] == 'i' && h[3] == 'x')) ||
                    rd16(h + 8) != 2 || h[11] != 1 || len < 24)
                        return avi_reader_fail(r, -EBADMSG,
                                               "super index entry %u does not point at a standard index",
                                               i);
                (void) id;
                if (ix + 8 + (uint64_t) len > r->file_size)
                        return avi_reader_fail(r, -EBADMSG,
                                               "standard index %u runs past the end of the file", i);
                n = MIN(rd32(h + 12), (len - 24) / 8);
                base = rd64(h + 20);
                if (base > r->file_size)
                        return avi_reader_fail(r, -EBADMSG,
                                               "standard index %u has a base offset past the end of the file",
                                               i);

                for (uint32_t done = 0; done < n;) {
                        uint32_t chunk = MIN(n - done, (uint32_t) (INDEX_BATCH / 8));
                        k = avi_read_at(r, batch, (size_t) chunk * 8, ix + 32 + (uint64_t) done * 8);
                        if (k < 0)
                                return avi_reader_fail(r, -EBADMSG, "standard index %u is truncated", i);
                        for (uint32_t j = 0; j < chunk; j++, entry_no++) {
                                k = add_frame(r, base + rd32(batch + 8 * j),
                                              rd32(batch + 8 * j + 4) & 0x7fffffffu, entry_no);
                                if (k < 0)
                                        return k;
                        }
                        done += chunk;
                }
        }
        r->opendml = true;
        return 0;
}

/* Walks one movi list, taking every complete video chunk. */
static int scan_movi(struct avi_reader *r, const struct avi_movi *m) {
        uint64_t pos = m->fourcc_offset + 4, end = m->end;
        struct riff_chunk c;
        int k;

        /* Every step advances by at least 8 bytes. */
        while ((k = avi_chunk_at(r, pos, end, &c)) > 0) {
                /* 'rec ' groups interleaved chunks: walk into it. */
                if (c.has_type && c.list_type == FOURCC('r', 'e', 'c', ' ')) {
                        pos += 12;
                        continue;
                }
                if (riff_chunk_is_torn(&c, end)) {
                        /* A torn chunk: the writer stopped in the middle of it. */
                        r->complete = false;
                        break;
                }
                if (is_video_chunk(r, c.id)) {
                        k = add_frame(r, pos + 8, c.len, r->n_frames);
                        if (k < 0)
                                return k;
                }
                pos = riff_chunk_next(&c);
        }
        return k < 0 ? k : 0;
}

static int build_by_scanning(struct avi_reader *r, unsigned first_movi) {
        for (unsigned i = first_movi; i < r->n_movi; i++) {
                int k = scan_movi(r, &r->movi[i]);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Finds whether idx1 offsets count from the "movi" FourCC or from the file start, by
 * looking for the chunk that the first video entry names. */
static int idx1_base(struct avi_reader *r, uint32_t id, uint32_t off, uint64_t entry,
                     uint64_t *ret) {
        uint64_t candidates[2] = { r->movi[0].fourcc_offset, 0 };
        uint8_t h[4];

        for (unsigned c = 0; c < 2; c++)
                if (avi_read_at(r, h, 4, candidates[c] + off) >= 0 && rd32(h) == id) {
                        *ret = candidates[c];
                        return 0;
                }
        return avi_reader_fail(r, -EBADMSG, "index entry %llu does not point at a video chunk",
                               (unsigned long long) entry);
}

static int build_from_idx1(struct avi_reader *r) {
        _cleanup_free_ uint8_t *batch = malloc(INDEX_BATCH);
        uint64_t n = r->idx1_size / 16, base = 0;
        bool have_base = false;
        int k;

        if (!batch)
                return -ENOMEM;

        for (uint64_t done = 0; done < n;) {
                uint64_t chunk = MIN(n - done, (uint64_t) (INDEX_BATCH / 16));
                k = avi_read_at(r, batch, chunk * 16, r->idx1_offset + done * 16);
                if (k < 0)
                        return avi_reader_fail(r, -EBADMSG, "idx1 index is truncated");
                for (uint64_t j = 0; j < chunk; j++) {
                        const uint8_t *e = batch + 16 * j;
                        uint32_t id = rd32(e), off = rd32(e + 8), size = rd32(e + 12);

                        if (!is_video_chunk(r, id))
                                continue;
                        if (!have_base) {
                                k = idx1_base(r, id, off, done + j, &base);
                                if (k < 0)
                                        return k;
                                have_base = true;
                        }
                        k = add_frame(r, base + off + 8, size, done + j);
                        if (k < 0)
                                return k;
                }
                done += chunk;
        }
        return 0;
}

int avi_index_build(struct avi_reader *r) {
        const struct avi_stream_state *st = &r->stream_state[r->video];
        int k;

        /* An interrupted writer left indexes that miss the newest frames: trust the data. */
        if (!r->complete)
                return build_by_scanning(r, 0);
        if (st->has_super_index && st->super_index_entries > 0)
                return build_from_super_index(r);
        if (r->have_idx1) {
                k = build_from_idx1(r);
                if (k < 0)
                        return k;
                /* idx1 covers the first RIFF only. */
                return build_by_scanning(r, 1);
        }
        return build_by_scanning(r, 0);
}
