/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "media-test.h"

char *test_tmpdir(void) {
        const char *base = getenv("TMPDIR");
        char *p;

        if (!base || !*base)
                base = "/tmp";
        ASSERT(asprintf(&p, "%s/media-test-XXXXXX", base) > 0);
        ASSERT(mkdtemp(p));
        return p;
}

void test_rmdir(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' &&
                    (de->d_name[1] == 0 || (de->d_name[1] == '.' && de->d_name[2] == 0)))
                        continue;
                char *p;
                ASSERT(asprintf(&p, "%s/%s", dir, de->d_name) > 0);
                if (unlinkat(AT_FDCWD, p, 0) < 0)
                        (void) rmdir(p);
                free(p);
        }
        closedir(d);
        (void) rmdir(dir);
}

bool test_have_program(const char *prog) {
        char *cmd;
        int r;

        ASSERT(asprintf(&cmd, "command -v %s >/dev/null 2>&1", prog) > 0);
        r = system(cmd);
        free(cmd);
        return r == 0;
}

char *test_run(const char *cmd, int *status) {
        FILE *f = popen(cmd, "r");
        size_t size = 0, allocated = 4096;
        char *out = malloc(allocated);
        int st;

        ASSERT(f && out);
        for (;;) {
                size_t n = fread(out + size, 1, allocated - size - 1, f);
                size += n;
                if (n == 0)
                        break;
                if (allocated - size < 2) {
                        allocated *= 2;
                        out = realloc(out, allocated);
                        ASSERT(out);
                }
        }
        out[size] = 0;
        st = pclose(f);
        if (status)
                *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

void test_write_file(const char *path, const void *data, size_t size) {
        FILE *f = fopen(path, "we");
        ASSERT(f);
        ASSERT(fwrite(data, 1, size, f) == size);
        ASSERT(fclose(f) == 0);
}

uint8_t *test_read_file(const char *path, size_t *ret_size) {
        struct stat st;
        uint8_t *buf;
        FILE *f = fopen(path, "re");

        ASSERT(f);
        ASSERT(fstat(fileno(f), &st) == 0);
        buf = malloc(st.st_size ? (size_t) st.st_size : 1);
        ASSERT(buf);
        ASSERT(fread(buf, 1, (size_t) st.st_size, f) == (size_t) st.st_size);
        fclose(f);
        *ret_size = (size_t) st.st_size;
        return buf;
}

void test_fill_plane(uint8_t *p, unsigned w, unsigned h, unsigned stride, unsigned seed) {
        for (unsigned y = 0; y < h; y++)
                for (unsigned x = 0; x < w; x++)
                        p[(size_t) y * stride + x] =
                                (uint8_t) (128 + 60 * sin((x + seed * 7) / 23.0) +
                                           50 * cos((y + seed * 3) / 17.0));
}

double test_psnr(const uint8_t *a, unsigned astride, const uint8_t *b, unsigned bstride, unsigned w,
                 unsigned h) {
        double se = 0;

        for (unsigned y = 0; y < h; y++)
                for (unsigned x = 0; x < w; x++) {
                        double d = (double) a[(size_t) y * astride + x] - b[(size_t) y * bstride + x];
                        se += d * d;
                }
        if (se == 0)
                return 99;
        return 10 * log10(255.0 * 255.0 * w * h / se);
}
