/* SPDX-License-Identifier: MIT */
/* macro.h first: libexif #undefs and redefines MIN/MAX the same way. */
#include "shared/macro.h"

#include <errno.h>
#include <libexif/exif-data.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/exif.h"

#define APP1_MAX_PAYLOAD (65535 - 2) /* the segment length field counts itself */

static const uint8_t exif_magic[6] = { 'E', 'x', 'i', 'f', 0, 0 };

DEFINE_TRIVIAL_CLEANUP_FUNC(ExifData *, exif_data_unref);

/* A new entry of the given format in ifd; NULL on OOM. Ownership stays with the IFD. */
static ExifEntry *add_entry(ExifData *ed, ExifIfd ifd, ExifTag tag, ExifFormat format,
                            unsigned components) {
        ExifMem *mem = exif_mem_new_default();
        ExifEntry *e;
        size_t size = (size_t) exif_format_get_size(format) * components;

        if (!mem)
                return NULL;
        e = exif_entry_new_mem(mem);
        if (!e) {
                exif_mem_unref(mem);
                return NULL;
        }
        e->data = exif_mem_alloc(mem, size);
        if (!e->data) {
                exif_entry_unref(e);
                exif_mem_unref(mem);
                return NULL;
        }
        memset(e->data, 0, size);
        e->size = size;
        e->tag = tag;
        e->format = format;
        e->components = components;
        exif_content_add_entry(ed->ifd[ifd], e);
        exif_entry_unref(e);
        exif_mem_unref(mem);
        return e;
}

static int add_ascii(ExifData *ed, ExifIfd ifd, ExifTag tag, const char *s) {
        size_t len = strlen(s) + 1;
        ExifEntry *e;

        if (len > APP1_MAX_PAYLOAD)
                return -E2BIG;
        e = add_entry(ed, ifd, tag, EXIF_FORMAT_ASCII, (unsigned) len);
        if (!e)
                return -ENOMEM;
        memcpy(e->data, s, len);
        return 0;
}

static int add_short(ExifData *ed, ExifIfd ifd, ExifTag tag, uint16_t v) {
        ExifEntry *e = add_entry(ed, ifd, tag, EXIF_FORMAT_SHORT, 1);
        if (!e)
                return -ENOMEM;
        exif_set_short(e->data, exif_data_get_byte_order(ed), v);
        return 0;
}

static int add_long(ExifData *ed, ExifIfd ifd, ExifTag tag, uint32_t v) {
        ExifEntry *e = add_entry(ed, ifd, tag, EXIF_FORMAT_LONG, 1);
        if (!e)
                return -ENOMEM;
        exif_set_long(e->data, exif_data_get_byte_order(ed), v);
        return 0;
}

static int fill(ExifData *ed, const struct exif_fields *f) {
        int r = 0;

        if (f->make && (r = add_ascii(ed, EXIF_IFD_0, EXIF_TAG_MAKE, f->make)) < 0)
                return r;
        if (f->model && (r = add_ascii(ed, EXIF_IFD_0, EXIF_TAG_MODEL, f->model)) < 0)
                return r;
        if (f->software && (r = add_ascii(ed, EXIF_IFD_0, EXIF_TAG_SOFTWARE, f->software)) < 0)
                return r;
        if (f->orientation > 0 &&
            (r = add_short(ed, EXIF_IFD_0, EXIF_TAG_ORIENTATION, (uint16_t) f->orientation)) < 0)
                return r;
        if (f->datetime_us > 0) {
                time_t t = (time_t) (f->datetime_us / 1000000);
                char when[20], subsec[4];
                struct tm tm;

                /* EXIF times are local wall-clock time without a zone. */
                if (!localtime_r(&t, &tm))
                        return -EINVAL;
                if (strftime(when, sizeof(when), "%Y:%m:%d %H:%M:%S", &tm) != 19)
                        return -EINVAL;
                snprintf(subsec, sizeof(subsec), "%03u",
                         (unsigned) (f->datetime_us / 1000 % 1000));
                if ((r = add_ascii(ed, EXIF_IFD_0, EXIF_TAG_DATE_TIME, when)) < 0 ||
                    (r = add_ascii(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, when)) < 0 ||
                    (r = add_ascii(ed, EXIF_IFD_EXIF, EXIF_TAG_SUB_SEC_TIME_ORIGINAL, subsec)) < 0)
                        return r;
        }
        if (f->width > 0 &&
            (r = add_long(ed, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_X_DIMENSION, f->width)) < 0)
                return r;
        if (f->height > 0 &&
            (r = add_long(ed, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_Y_DIMENSION, f->height)) < 0)
                return r;
        return 0;
}

int exif_build_app1(const struct exif_fields *fields, uint8_t **ret, size_t *ret_size) {
        _cleanup_(exif_data_unrefp) ExifData *ed = NULL;
        unsigned char *tiff = NULL;
        unsigned int tiff_size = 0;
        uint8_t *app1;
        int r;

        if (fields->orientation > 8)
                return -EINVAL;

        ed = exif_data_new();
        if (!ed)
                return -ENOMEM;
        /* Only what we set: no automatic "fix" that would add tags with made-up values. */
        exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        exif_data_set_data_type(ed, EXIF_DATA_TYPE_COMPRESSED);
        exif_data_set_byte_order(ed, EXIF_BYTE_ORDER_INTEL);

        r = fill(ed, fields);
        if (r < 0)
                return r;

        /* libexif's output begins with the "Exif\0\0" header, then the TIFF structure. */
        exif_data_save_data(ed, &tiff, &tiff_size);
        if (!tiff || tiff_size < sizeof(exif_magic)) {
                free(tiff);
                return -ENOMEM;
        }
        if (memcmp(tiff, exif_magic, sizeof(exif_magic)) != 0) {
                free(tiff);
                return -EIO;
        }
        if (tiff_size > APP1_MAX_PAYLOAD) {
                free(tiff);
                return -E2BIG;
        }

        app1 = malloc(tiff_size + 4);
        if (!app1) {
                free(tiff);
                return -ENOMEM;
        }
        app1[0] = 0xFF;
        app1[1] = 0xE1;
        app1[2] = (uint8_t) ((tiff_size + 2) >> 8);
        app1[3] = (uint8_t) ((tiff_size + 2) & 0xFF);
        memcpy(app1 + 4, tiff, tiff_size);
        free(tiff);

        *ret = app1;
        *ret_size = tiff_size + 4;
        return 0;
}

/* True for an APP1 segment at p (of length seg bytes incl. marker) carrying EXIF. */
static bool is_exif_app1(const uint8_t *p, size_t seg) {
        return p[1] == 0xE1 && seg >= 4 + sizeof(exif_magic) &&
               memcmp(p + 4, exif_magic, sizeof(exif_magic)) == 0;
}

int exif_insert_into_jpeg(const void *jpeg, size_t jpeg_size, const struct exif_fields *fields,
                          uint8_t **ret, size_t *ret_size) {
        const uint8_t *in = jpeg;
        _cleanup_free_ uint8_t *app1 = NULL, *out = NULL;
        size_t app1_size, pos = 2, n = 0;
        int r;

        if (!in || jpeg_size < 4 || in[0] != 0xFF || in[1] != 0xD8)
                return -EBADMSG;

        r = exif_build_app1(fields, &app1, &app1_size);
        if (r < 0)
                return r;

        out = malloc(jpeg_size + app1_size);
        if (!out)
                return -ENOMEM;
        out[n++] = 0xFF;
        out[n++] = 0xD8;
        memcpy(out + n, app1, app1_size);
        n += app1_size;

        /* Copy the leading APPn/COM segments, dropping old EXIF blocks; the rest verbatim. */
        while (pos + 4 <= jpeg_size && in[pos] == 0xFF &&
               ((in[pos + 1] >= 0xE0 && in[pos + 1] <= 0xEF) || in[pos + 1] == 0xFE)) {
                size_t seg = 2 + ((size_t) in[pos + 2] << 8 | in[pos + 3]);
                if (seg < 4 || pos + seg > jpeg_size)
                        return -EBADMSG;
                if (!is_exif_app1(in + pos, seg)) {
                        memcpy(out + n, in + pos, seg);
                        n += seg;
                }
                pos += seg;
        }
        if (pos >= jpeg_size || in[pos] != 0xFF)
                return -EBADMSG;
        memcpy(out + n, in + pos, jpeg_size - pos);
        n += jpeg_size - pos;

        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}
