/* SPDX-License-Identifier: MIT */
/* The denoise and sharpen kernels, and the measured effect of the whole pipeline: temporal
 * noise on a static noisy input goes down with "denoise", motion is not smeared. */
#include <math.h>

#include "media/avi-reader.h"
#include "media/jpeg.h"
#include "process/video-denoise.h"
#include "shared/log.h"
#include "test-video-util.h"

static uint32_t rng = 12345;
static int noise(int amplitude) {
        rng = rng * 1103515245u + 12345u;
        return (int) ((rng >> 16) % (unsigned) (2 * amplitude + 1)) - amplitude;
}

static void test_kernels(void) {
        enum { W = 64, H = 16 };
        static uint8_t in[W * H], ref[W * H], out[W * H];
        struct video_denoise off, strong;
        double var_in = 0, var_out = 0;

        /* Strength 0 is the identity and copies into the reference. */
        video_denoise_init(&off, 0.0);
        check(!off.enabled);
        for (int i = 0; i < W * H; i++)
                in[i] = (uint8_t) (i * 7), ref[i] = 0;
        video_denoise_plane(&off, in, W, ref, W, W, H);
        for (int i = 0; i < W * H; i++)
                check(in[i] == (uint8_t) (i * 7) && ref[i] == in[i]);

        /* A static grey scene with noise: the output varies far less than the input. */
        video_denoise_init(&strong, 1.0);
        for (int i = 0; i < W * H; i++)
                ref[i] = 128;
        for (int f = 0; f < 200; f++) {
                for (int i = 0; i < W * H; i++) {
                        int v = 128 + noise(12);
                        in[i] = (uint8_t) v;
                        var_in += (v - 128.0) * (v - 128.0);
                }
                video_denoise_plane(&strong, in, W, ref, W, W, H);
                for (int i = 0; i < W * H; i++)
                        var_out += (in[i] - 128.0) * (in[i] - 128.0);
        }
        printf("kernel: noise variance %.1f -> %.1f\n", var_in / (200.0 * W * H), var_out / (200.0 * W * H));
        check(var_out < 0.35 * var_in);

        /* Motion: a large change passes through unchanged, in both directions. */
        for (int i = 0; i < W * H; i++)
                ref[i] = 40, in[i] = 200;
        video_denoise_plane(&strong, in, W, ref, W, W, H);
        check(in[0] == 200 && ref[0] == 200);
        for (int i = 0; i < W * H; i++)
                in[i] = 10;
        video_denoise_plane(&strong, in, W, ref, W, W, H);
        check(in[5] == 10);
        /* A small change is pulled toward the reference, never past it. */
        for (int i = 0; i < W * H; i++)
                ref[i] = 100, in[i] = 104;
        video_denoise_plane(&strong, in, W, ref, W, W, H);
        check(in[0] >= 100 && in[0] < 104);

        /* Sharpen: flat stays flat, an edge gets steeper, amount 0 copies. */
        for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                        in[y * W + x] = x < W / 2 ? 60 : 180;
        video_sharpen_plane(in, W, out, W, W, H, 1.0);
        check(out[3 * W + 5] == 60 && out[3 * W + W - 5] == 180);
        check(out[3 * W + W / 2 - 1] < 60 && out[3 * W + W / 2] > 180);
        video_sharpen_plane(in, W, out, W, W, H, 0.0);
        check(memcmp(in, out, sizeof in) == 0);
}

/* Luma planes of every frame of an AVI. */
struct frames {
        unsigned n, w, h;
        uint8_t **y;
};

static struct frames load_luma(const char *path) {
        struct frames f = {};
        struct avi_reader *r;
        struct jpeg_decoder *d;
        struct yuv_image img = {};
        static uint8_t buf[4 << 20];
        int fd = vt_open(path, O_RDONLY);

        check(avi_reader_open(fd, &r, NULL, 0) >= 0);
        check(jpeg_decoder_new(&d) >= 0);
        f.n = (unsigned) avi_reader_frame_count(r);
        f.y = calloc(f.n, sizeof *f.y);
        for (unsigned i = 0; i < f.n; i++) {
                int size = avi_reader_read_frame(r, i, buf, sizeof buf);
                check(size > 0);
                check(jpeg_decode(d, buf, (size_t) size, &img) >= 0);
                f.w = img.width, f.h = img.height;
                f.y[i] = malloc((size_t) f.w * f.h);
                for (unsigned y = 0; y < f.h; y++)
                        memcpy(f.y[i] + (size_t) y * f.w, img.plane[0] + (size_t) y * img.stride[0], f.w);
        }
        yuv_image_done(&img);
        jpeg_decoder_free(d);
        avi_reader_free(r);
        close(fd);
        return f;
}

static void frames_free(struct frames *f) {
        for (unsigned i = 0; i < f->n; i++)
                free(f->y[i]);
        free(f->y);
}

/* Mean over pixels of the variance over frames [skip, n). */
static double temporal_variance(const struct frames *f, unsigned skip) {
        size_t px = (size_t) f->w * f->h;
        double total = 0;

        for (size_t p = 0; p < px; p++) {
                double s = 0, s2 = 0;
                for (unsigned i = skip; i < f->n; i++) {
                        s += f->y[i][p];
                        s2 += (double) f->y[i][p] * f->y[i][p];
                }
                double m = s / (f->n - skip);
                total += s2 / (f->n - skip) - m * m;
        }
        return total / px;
}

static double mean_abs_diff(const struct frames *a, const struct frames *b) {
        size_t px = (size_t) a->w * a->h;
        double total = 0;

        check(a->n == b->n);
        for (unsigned i = 0; i < a->n; i++)
                for (size_t p = 0; p < px; p++)
                        total += abs((int) a->y[i][p] - (int) b->y[i][p]);
        return total / ((double) px * a->n);
}

static char *process(struct vt_env *env, const char *dir, const char *in, const char *name,
                     const char *settings) {
        struct vt_events ev = {};
        struct video_processor *vp;
        char *out = vt_path(dir, name);

        check(video_processor_new(env->state_dir, 3000, env->pool, env->mailbox, &vt_callbacks, &ev, &vp) >= 0);
        vt_setup(vp, name, in, out, settings);
        check_r(video_processor_process(vp, name, 0), 0);
        check(vt_wait(env, vp, &ev, &ev.done, 0, 30));
        video_processor_free(vp);
        return out;
}

int main(void) {
        struct vt_env env;
        char *dir, *noisy, *moving, *o0, *o5, *o10, *m0, *m5;

        setvbuf(stdout, NULL, _IONBF, 0);

        test_kernels();
        if (!vt_have("ffmpeg")) {
                printf("ffmpeg missing, skipping the pipeline part\n");
                return 77;
        }
        log_set_max_level(LOG_LEVEL_WARNING);
        dir = vt_tmpdir();
        noisy = vt_path(dir, "noisy.avi");
        vt_sh("ffmpeg -v error -y -f lavfi -i 'color=c=0x808080:size=320x240:rate=25,format=yuv420p,"
              "noise=alls=20:allf=t' -frames:v 30 -c:v mjpeg -q:v 2 '%s'", noisy);
        moving = vt_make_testsrc(dir, "moving.avi", "testsrc2", 320, 240, 25, 30);

        vt_env_init(&env, EXEC_MODE_HIGH_PERFORMANCE);
        o0 = process(&env, dir, noisy, "n0", "{\"denoise\":0,\"quality\":95}");
        o5 = process(&env, dir, noisy, "n5", "{\"denoise\":0.5,\"quality\":95}");
        o10 = process(&env, dir, noisy, "n10", "{\"denoise\":1,\"quality\":95}");
        m0 = process(&env, dir, moving, "m0", "{\"denoise\":0,\"quality\":95}");
        m5 = process(&env, dir, moving, "m5", "{\"denoise\":0.5,\"quality\":95}");
        vt_env_done(&env);

        struct frames f0 = load_luma(o0), f5 = load_luma(o5), f10 = load_luma(o10);
        /* Skip the first frames: the recursive filter needs a few to build up history. */
        double v0 = temporal_variance(&f0, 5), v5 = temporal_variance(&f5, 5), v10 = temporal_variance(&f10, 5);
        printf("static noisy input: temporal variance %.1f (off), %.1f (0.5), %.1f (1.0)\n", v0, v5, v10);
        check(v0 > 20);          /* the input really is noisy */
        check(v5 < 0.7 * v0);
        check(v10 < 0.4 * v0);
        check(v10 < v5);

        struct frames g0 = load_luma(m0), g5 = load_luma(m5);
        double mad = mean_abs_diff(&g0, &g5);
        printf("moving clean input: mean |denoised - plain| = %.2f levels\n", mad);
        check(mad < 2.0); /* moving content passes through, no trails */

        frames_free(&f0);
        frames_free(&f5);
        frames_free(&f10);
        frames_free(&g0);
        frames_free(&g5);
        vt_rm_rf(dir);
        free(dir);
        free(noisy);
        free(moving);
        free(o0);
        free(o5);
        free(o10);
        free(m0);
        free(m5);
        printf("video-denoise: all checks passed\n");
        return 0;
}
