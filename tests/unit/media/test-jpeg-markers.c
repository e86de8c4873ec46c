/* SPDX-License-Identifier: MIT */
/* Camera JPEGs: SOI/EOI checks, DHT stripped (as UVC sends frames) and inserted again (for
 * standalone readers), the photo proxy made from the camera's own frame (djpeg decodes it,
 * EXIF present, entropy data untouched), and strict decoding that refuses damaged frames. */
#include "media-test.h"
#include "media/jpeg-markers.h"
#include "media/jpeg.h"
#include <libexif/exif-data.h>

#define W 320
#define H 240

static struct jpeg_encoder *enc;
static struct jpeg_decoder *dec;
static char *dir;

/* A 4:2:2 JPEG of a smooth pattern, as TurboJPEG writes it (with DHT). */
static void make_jpeg(struct jpeg_buffer *out) {
        struct yuv_image img = {};
        ASSERT_OK(yuv_image_alloc(&img, W, H, YUV_SUBSAMP_422));
        for (unsigned p = 0; p < 3; p++)
                test_fill_plane(img.plane[p], img.stride[p], img.plane_height[p], img.stride[p], p * 7);
        struct yuv_planes v = yuv_image_planes(&img);
        ASSERT_OK(jpeg_encode_planes(enc, &v, 85, out));
        yuv_image_done(&img);
}

/* Offset of the SOS marker (after the headers). */
static size_t sos_offset(const uint8_t *p, size_t size) {
        size_t pos = 2;
        while (pos + 4 <= size && !(p[pos] == 0xFF && p[pos + 1] == 0xDA))
                pos += 2 + ((size_t) p[pos + 2] << 8 | p[pos + 3]);
        ASSERT(pos + 4 <= size);
        return pos;
}

static bool same_pixels(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
        struct yuv_image x = {}, y = {};
        bool same;
        ASSERT_OK(jpeg_decode(dec, a, an, &x));
        ASSERT_OK(jpeg_decode(dec, b, bn, &y));
        same = x.width == y.width && x.height == y.height && x.subsamp == y.subsamp &&
               memcmp(x.buffer, y.buffer, (size_t) W * H * 2) == 0;
        yuv_image_done(&x);
        yuv_image_done(&y);
        return same;
}

static void test_frame_length(void) {
        struct jpeg_buffer j = {};
        make_jpeg(&j);
        uint8_t *padded = calloc(1, j.size + 100);
        ASSERT(padded);
        memcpy(padded, j.data, j.size);

        ASSERT_EQ(jpeg_frame_length(j.data, j.size), (long) j.size);
        ASSERT_EQ(jpeg_frame_length(padded, j.size + 100), (long) j.size); /* zero padding */
        ASSERT_EQ(jpeg_frame_length(j.data, j.size / 2), -EBADMSG);     /* no EOI */
        ASSERT_EQ(jpeg_frame_length(j.data + 2, j.size - 2), -EBADMSG); /* no SOI */
        ASSERT_EQ(jpeg_frame_length(j.data, 3), -EBADMSG);
        ASSERT_EQ(jpeg_frame_length(NULL, 0), -EBADMSG);
        free(padded);
        jpeg_buffer_done(&j);
}

static void test_strip_and_insert(void) {
        struct jpeg_buffer j = {};
        make_jpeg(&j);
        ASSERT(jpeg_has_dht(j.data, j.size));

        uint8_t *bare = malloc(j.size);
        ASSERT(bare);
        long n = jpeg_strip_dht(j.data, j.size, bare);
        ASSERT(n > 0 && (size_t) n < j.size);
        ASSERT(!jpeg_has_dht(bare, (size_t) n));
        ASSERT_EQ(jpeg_frame_length(bare, (size_t) n), n);
        /* TurboJPEG decodes it like a Motion-JPEG decoder, with the standard tables. */
        ASSERT(same_pixels(j.data, j.size, bare, (size_t) n));

        uint8_t *again = NULL;
        size_t again_size = 0;
        ASSERT_OK(jpeg_insert_dht(bare, (size_t) n, &again, &again_size));
        ASSERT(jpeg_has_dht(again, again_size));
        ASSERT(same_pixels(j.data, j.size, again, again_size));
        /* The entropy data is the camera's, byte for byte. */
        size_t s1 = sos_offset(bare, (size_t) n), s2 = sos_offset(again, again_size);
        ASSERT_EQ(again_size - s2, (size_t) n - s1);
        ASSERT(memcmp(bare + s1, again + s2, (size_t) n - s1) == 0);

        /* Already has tables: an exact copy. */
        uint8_t *copy = NULL;
        size_t copy_size = 0;
        ASSERT_OK(jpeg_insert_dht(j.data, j.size, &copy, &copy_size));
        ASSERT(copy_size == j.size && memcmp(copy, j.data, j.size) == 0);

        /* Garbage is refused. */
        uint8_t junk[64] = { 0xFF, 0xD8, 0xFF, 0xDB, 0xFF, 0xFF };
        ASSERT_EQ(jpeg_insert_dht(junk, sizeof junk, &copy, &copy_size), -EBADMSG);
        ASSERT_EQ(jpeg_strip_dht(junk + 2, sizeof junk - 2, bare), -EBADMSG);
        ASSERT(!jpeg_has_dht(junk, sizeof junk));

        free(copy);
        free(again);
        free(bare);
        jpeg_buffer_done(&j);
}

/* Headers broken after a DHT (a camera's damaged frame): every marker function refuses them
 * alike, rather than stopping at the DHT and passing the rest on. */
static void test_broken_after_dht(void) {
        struct jpeg_buffer j = {};
        make_jpeg(&j);
        size_t sos = sos_offset(j.data, j.size);
        uint8_t *broken = malloc(j.size), *stripped = malloc(j.size), *out = NULL;
        size_t out_size = 0;
        ASSERT(broken && stripped);
        memcpy(broken, j.data, j.size);
        ASSERT(broken[sos - 2] != 0xFF); /* the last header segment's payload */
        broken[sos] = 0x19;              /* SOS marker gone: garbage where a segment belongs */

        ASSERT(!jpeg_has_dht(broken, j.size));
        ASSERT_EQ(jpeg_insert_dht(broken, j.size, &out, &out_size), -EBADMSG);
        ASSERT_EQ(jpeg_strip_dht(broken, j.size, stripped), -EBADMSG);
        ASSERT(!out);
        free(stripped);
        free(broken);
        jpeg_buffer_done(&j);
}

/* The proxy of a DHT-less camera frame: djpeg reads it, EXIF is there, the picture is the
 * camera's own. */
static void test_camera_proxy(void) {
        struct jpeg_buffer j = {};
        make_jpeg(&j);
        uint8_t *bare = malloc(j.size), *proxy = NULL;
        size_t proxy_size = 0;
        ASSERT(bare);
        long n = jpeg_strip_dht(j.data, j.size, bare);
        ASSERT(n > 0);

        struct exif_fields f = {
                .make = "Acme", .model = "Webcam C1", .software = "camerad test",
                .datetime_us = 1700000000000000ull, .width = W, .height = H, .orientation = 1,
        };
        ASSERT_OK(jpeg_camera_proxy(bare, (size_t) n, &f, &proxy, &proxy_size));
        ASSERT(jpeg_has_dht(proxy, proxy_size));
        ASSERT(same_pixels(j.data, j.size, proxy, proxy_size));
        size_t s1 = sos_offset(bare, (size_t) n), s2 = sos_offset(proxy, proxy_size);
        ASSERT(memcmp(bare + s1, proxy + s2, (size_t) n - s1) == 0);

        ExifData *ed = exif_data_new_from_data(proxy, (unsigned) proxy_size);
        ASSERT(ed);
        ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_MAKE);
        char value[64];
        ASSERT(e && streq(exif_entry_get_value(e, value, sizeof value), "Acme"));
        exif_data_unref(ed);

        if (test_have_program("djpeg")) {
                char *path, *cmd, *out;
                int status;
                ASSERT(asprintf(&path, "%s/proxy.jpg", dir) > 0);
                test_write_file(path, proxy, proxy_size);
                ASSERT(asprintf(&cmd, "djpeg -pnm %s 2>&1 >/dev/null | head -c 200; djpeg -pnm %s | head -c 20", path, path) > 0);
                out = test_run(cmd, &status);
                fprintf(stderr, "djpeg: %.20s\n", out ? out : "(failed)");
                ASSERT(out && status == 0);
                /* No warning on stderr, and a PPM of the right size on stdout. */
                ASSERT(strncmp(out, "P6\n320 240\n255\n", 15) == 0);
                free(out);
                free(cmd);
                unlink(path);
                free(path);
        } else
                fprintf(stderr, "djpeg missing: skipping its check\n");

        free(proxy);
        free(bare);
        jpeg_buffer_done(&j);
}

/* A camera frame is decoded strictly: a cut or damaged one is refused, where the lenient
 * decoder of stored files would accept it with a warning. */
static void test_strict_decode(void) {
        struct jpeg_buffer j = {};
        struct jpeg_info info;
        struct yuv_image img = {};
        make_jpeg(&j);
        ASSERT_OK(jpeg_read_info(dec, j.data, j.size, &info));
        ASSERT_OK(yuv_image_alloc(&img, W, H, YUV_SUBSAMP_422));

        ASSERT_OK(jpeg_decode_to_planes(dec, j.data, j.size, &info, img.plane, img.stride));

        size_t cut = j.size * 2 / 3;
        ASSERT_EQ(jpeg_decode_to_planes(dec, j.data, cut, &info, img.plane, img.stride), -EBADMSG);
        ASSERT(jpeg_decoder_error(dec)[0] != 0);
        struct yuv_image lenient = {};
        ASSERT_OK(jpeg_decode(dec, j.data, cut, &lenient));
        yuv_image_done(&lenient);

        uint8_t *bad = malloc(j.size);
        ASSERT(bad);
        memcpy(bad, j.data, j.size);
        bad[j.size / 2] = 0xFF;
        bad[j.size / 2 + 1] = 0xD3; /* a restart marker where none belongs */
        ASSERT_EQ(jpeg_decode_to_planes(dec, bad, j.size, &info, img.plane, img.stride), -EBADMSG);

        /* Planes too small for the picture: refused before decoding. */
        unsigned small[3] = { W - 2, W / 2, W / 2 };
        ASSERT_EQ(jpeg_decode_to_planes(dec, j.data, j.size, &info, img.plane, small), -EINVAL);
        free(bad);
        yuv_image_done(&img);
        jpeg_buffer_done(&j);
}

int main(void) {
        ASSERT_OK(jpeg_encoder_new(&enc));
        ASSERT_OK(jpeg_decoder_new(&dec));
        dir = test_tmpdir();
        test_frame_length();
        test_strip_and_insert();
        test_broken_after_dht();
        test_camera_proxy();
        test_strict_decode();
        test_rmdir(dir);
        free(dir);
        jpeg_encoder_free(enc);
        jpeg_decoder_free(dec);
        return 0;
}
