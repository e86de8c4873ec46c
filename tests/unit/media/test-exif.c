/* SPDX-License-Identifier: MIT */
/* EXIF APP1 blocks: libexif (and exiftool, when installed) read back every tag we set, the
 * JPEG still decodes, and a second insert replaces the first block instead of adding one. */
#include <time.h>

#include "media-test.h"
#include "media/exif.h"
#include "media/jpeg.h"

/* After shared/macro.h (via jpeg.h): libexif #undefs and redefines MIN/MAX the same way. */
#include <libexif/exif-data.h>

static const struct exif_fields fields = {
        .make = "camerad",
        .model = "virtual:0",
        .software = "camerad 0.1.0",
        .datetime_us = UINT64_C(1700000000123456), /* 2023-11-14 22:13:20.123 UTC */
        .width = 320,
        .height = 240,
        .orientation = 6,
};

static struct jpeg_buffer make_jpeg(void) {
        _cleanup_(jpeg_encoder_freep) struct jpeg_encoder *e = NULL;
        struct yuv_image img = {};
        struct jpeg_buffer out = {};

        ASSERT_OK(jpeg_encoder_new(&e));
        ASSERT_OK(yuv_image_alloc(&img, 320, 240, YUV_SUBSAMP_420));
        for (unsigned p = 0; p < 3; p++)
                test_fill_plane(img.plane[p], img.stride[p], img.plane_height[p], img.stride[p], p);
        struct yuv_planes planes = yuv_image_planes(&img);
        ASSERT_OK(jpeg_encode_planes(e, &planes, 90, &out));
        yuv_image_done(&img);
        return out;
}

static void expect_tag(ExifData *ed, ExifIfd ifd, ExifTag tag, const char *value) {
        char buf[256];
        ExifEntry *e = exif_content_get_entry(ed->ifd[ifd], tag);

        ASSERT(e);
        exif_entry_get_value(e, buf, sizeof(buf));
        if (!streq(buf, value)) {
                fprintf(stderr, "tag %s: '%s', expected '%s'\n", exif_tag_get_name(tag), buf, value);
                ASSERT(false);
        }
}

static size_t count_exif_blocks(const uint8_t *d, size_t size) {
        size_t n = 0;
        for (size_t i = 0; i + 10 <= size; i++)
                if (d[i] == 0xFF && d[i + 1] == 0xE1 && memcmp(d + i + 4, "Exif\0\0", 6) == 0)
                        n++;
        return n;
}

int main(void) {
        struct jpeg_buffer jpeg = make_jpeg();
        _cleanup_free_ uint8_t *tagged = NULL, *twice = NULL, *app1 = NULL;
        _cleanup_(jpeg_decoder_freep) struct jpeg_decoder *dec = NULL;
        size_t tagged_size, twice_size, app1_size;
        struct yuv_image img = {};
        ExifData *ed;

        /* EXIF date/time is local time: pin the zone so the expected strings are fixed. */
        setenv("TZ", "UTC", 1);
        tzset();

        ASSERT_OK(exif_build_app1(&fields, &app1, &app1_size));
        ASSERT(app1[0] == 0xFF && app1[1] == 0xE1);
        ASSERT_EQ(((size_t) app1[2] << 8 | app1[3]) + 2, app1_size);

        ASSERT_OK(exif_insert_into_jpeg(jpeg.data, jpeg.size, &fields, &tagged, &tagged_size));
        ASSERT(tagged[0] == 0xFF && tagged[1] == 0xD8 && tagged[2] == 0xFF && tagged[3] == 0xE1);
        ASSERT_EQ(tagged_size, jpeg.size + app1_size);
        ASSERT_EQ(count_exif_blocks(tagged, tagged_size), 1);

        ed = exif_data_new_from_data(tagged, (unsigned) tagged_size);
        ASSERT(ed);
        expect_tag(ed, EXIF_IFD_0, EXIF_TAG_MAKE, "camerad");
        expect_tag(ed, EXIF_IFD_0, EXIF_TAG_MODEL, "virtual:0");
        expect_tag(ed, EXIF_IFD_0, EXIF_TAG_SOFTWARE, "camerad 0.1.0");
        expect_tag(ed, EXIF_IFD_0, EXIF_TAG_ORIENTATION, "Right-top");
        expect_tag(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, "2023:11:14 22:13:20");
        expect_tag(ed, EXIF_IFD_EXIF, EXIF_TAG_SUB_SEC_TIME_ORIGINAL, "123");
        expect_tag(ed, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_X_DIMENSION, "320");
        expect_tag(ed, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_Y_DIMENSION, "240");
        exif_data_unref(ed);

        /* The picture is untouched. */
        ASSERT_OK(jpeg_decoder_new(&dec));
        ASSERT_OK(jpeg_decode(dec, tagged, tagged_size, &img));
        ASSERT_EQ(img.width, 320);
        yuv_image_done(&img);

        /* Tagging a tagged JPEG replaces the block. */
        struct exif_fields other = fields;
        other.model = "second";
        ASSERT_OK(exif_insert_into_jpeg(tagged, tagged_size, &other, &twice, &twice_size));
        ASSERT_EQ(count_exif_blocks(twice, twice_size), 1);
        ed = exif_data_new_from_data(twice, (unsigned) twice_size);
        ASSERT(ed);
        expect_tag(ed, EXIF_IFD_0, EXIF_TAG_MODEL, "second");
        exif_data_unref(ed);

        /* Leaving fields out leaves the tags out. */
        struct exif_fields sparse = { .make = "only" };
        free(app1);
        app1 = NULL;
        ASSERT_OK(exif_build_app1(&sparse, &app1, &app1_size));
        ed = exif_data_new_from_data(app1, (unsigned) app1_size);
        ASSERT(ed);
        ASSERT(!exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_MODEL));
        ASSERT(!exif_content_get_entry(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_DATE_TIME_ORIGINAL));
        exif_data_unref(ed);

        /* Refusals. */
        uint8_t *bad;
        size_t bad_size;
        ASSERT_EQ(exif_insert_into_jpeg("not a jpeg", 10, &fields, &bad, &bad_size), -EBADMSG);
        struct exif_fields wrong = fields;
        wrong.orientation = 9;
        ASSERT_EQ(exif_build_app1(&wrong, &bad, &bad_size), -EINVAL);

        /* exiftool, a reader we did not write against, agrees. */
        if (test_have_program("exiftool")) {
                char *dir = test_tmpdir(), *path, *cmd, *out;
                ASSERT(asprintf(&path, "%s/t.jpg", dir) > 0);
                test_write_file(path, tagged, tagged_size);
                ASSERT(asprintf(&cmd, "exiftool -s -s -s -Make -Model -Software -Orientation# "
                                "-DateTimeOriginal -ExifImageWidth -ExifImageHeight '%s'", path) > 0);
                out = test_run(cmd, NULL);
                ASSERT(out);
                if (!streq(out, "camerad\nvirtual:0\ncamerad 0.1.0\n6\n2023:11:14 22:13:20\n320\n240\n")) {
                        fprintf(stderr, "exiftool said:\n%s", out);
                        ASSERT(false);
                }
                free(out);
                free(cmd);
                free(path);
                test_rmdir(dir);
                free(dir);
        } else
                fprintf(stderr, "exiftool missing: checked with libexif only\n");

        jpeg_buffer_done(&jpeg);
        return 0;
}
