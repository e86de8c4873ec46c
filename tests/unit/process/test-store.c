/* SPDX-License-Identifier: MIT */
#include "process-test.h"
#include "process/store.h"
#include "shared/id.h"
#include "shared/macro.h"

static const char jpeg_stub[] = "\xff\xd8 not really a jpeg \xff\xd9";

static struct job_record make_record(const struct test_burst *t) {
        return (struct job_record) {
                .state = IMAGE_STATE_PENDING, .created_us = 1234567, .width = t->burst.width,
                .height = t->burst.height, .frames = t->burst.n_frames, .quality = 90,
                .chroma = IMAGE_CHROMA_420, .last_error = _IMAGE_ERROR_INVALID,
                .make = "Make", .model = "Model",
        };
}

struct scan_result {
        unsigned n;
        char ids[8][IMAGE_ID_LEN + 1];
        struct job_record recs[8];
        uint64_t bytes[8];
};

static int collect(const char *id, const struct job_record *rec, uint64_t bytes, void *userdata) {
        struct scan_result *s = userdata;
        check(s->n < 8);
        memcpy(s->ids[s->n], id, IMAGE_ID_LEN + 1);
        s->recs[s->n] = *rec;
        s->bytes[s->n] = bytes;
        s->n++;
        return 0;
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        check(f);
        fputs(text, f);
        check(fclose(f) == 0);
}

static void test_record_roundtrip(void) {
        struct job_record a = {
                .state = IMAGE_STATE_ERROR, .requested = true, .created_us = 1700000000123456ull,
                .width = 1920, .height = 1080, .frames = 4, .quality = 95, .retries = 2,
                .chroma = IMAGE_CHROMA_422, .last_error = IMAGE_ERROR_TIMEOUT,
                .make = "camerad", .model = "virtual:0",
        }, b;
        char *text;

        check_ok(job_record_format(&a, &text));
        check_ok(job_record_parse(text, strlen(text), &b));
        check(a.state == b.state && a.requested == b.requested && a.created_us == b.created_us);
        check(a.width == b.width && a.height == b.height && a.frames == b.frames);
        check(a.quality == b.quality && a.retries == b.retries && a.chroma == b.chroma);
        check(a.last_error == b.last_error && streq(a.make, b.make) && streq(a.model, b.model));
        free(text);
}

static void test_record_garbage(void) {
        static const char *bad[] = {
                "", "null", "[]", "{}", "{\"version\":1}",
                "{\"version\":2,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":64,\"height\":64,\"frames\":1,\"quality\":90,\"retries\":0}",
                "{\"version\":1,\"state\":\"weird\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":64,\"height\":64,\"frames\":1,\"quality\":90,\"retries\":0}",
                "{\"version\":1,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":65,\"height\":64,\"frames\":1,\"quality\":90,\"retries\":0}",
                "{\"version\":1,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":64,\"height\":64,\"frames\":17,\"quality\":90,\"retries\":0}",
                "{\"version\":1,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":-1,\"width\":64,\"height\":64,\"frames\":1,\"quality\":90,\"retries\":0}",
                "{\"version\":1,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":64,\"height\":64,\"frames\":1,\"quality\":0,\"retries\":0}",
                "{\"version\":1,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":64,\"height\":64,\"frames\":1,\"quality\":90,\"retries\":0,\"make\":\"a\\nb\"}",
                "{\"version\":1,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":64,\"height\":64,\"frames\":1,\"quality\":90,\"retries\":0,\"error\":5}",
                "\xff\xfe\x00garbage",
        };
        const char *good = "{\"version\":1,\"state\":\"pending\",\"priority\":\"normal\",\"chroma\":\"4:2:0\",\"created\":1,\"width\":64,\"height\":64,\"frames\":1,\"quality\":90,\"retries\":0}";
        struct job_record r;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (job_record_parse(bad[i], strlen(bad[i]), &r) != -EBADMSG) {
                        fprintf(stderr, "accepted bad record %zu: %s\n", i, bad[i]);
                        abort();
                }
        check_ok(job_record_parse(good, strlen(good), &r));
        /* Truncated anywhere: never accepted, never crashes. */
        for (size_t n = 0; n < strlen(good); n++)
                check(job_record_parse(good, n, &r) == -EBADMSG);
}

static void test_create_and_load(const char *state) {
        struct image_store *s;
        struct test_burst t;
        struct job_record rec;
        struct stored_burst b;
        char id[IMAGE_ID_LEN + 1], *path;
        uint64_t bytes;

        test_burst_init(&t, 64, 48, 3, 1);
        rec = make_record(&t);
        check_ok(image_id_new(id));
        check_ok(image_store_open(state, 4242, &s));
        check_ok(image_store_create(s, id, &rec, &t.burst, jpeg_stub, sizeof jpeg_stub, &bytes));
        check(bytes >= image_frame_size(64, 48, IMAGE_CHROMA_420) * 3);

        check(asprintf(&path, "%s/images/4242/%s", state, id) > 0);
        check(test_mode_of(path) == 0700);
        free(path);
        check(asprintf(&path, "%s/images/4242/%s/record.json", state, id) > 0);
        check(test_mode_of(path) == 0600);
        free(path);
        check(asprintf(&path, "%s/images/4242/%s/burst.yuv", state, id) > 0);
        check(test_mode_of(path) == 0600);

        check_ok(image_store_load_burst(s, id, &rec, &b));
        check(b.n_frames == 3 && b.width == 64 && b.height == 48);
        for (unsigned f = 0; f < 3; f++) {
                check(memcmp(b.frames[f].y, t.frames[f].y, 64 * 48) == 0);
                check(memcmp(b.frames[f].cr, t.frames[f].cr, 32 * 24) == 0);
        }
        stored_burst_done(&b);

        /* A burst that does not match its record is a "process" error, not a crash. */
        rec.frames = 2;
        check(image_store_load_burst(s, id, &rec, &b) == -EBADMSG);
        rec.frames = 3;
        check(truncate(path, 100) == 0);
        check(image_store_load_burst(s, id, &rec, &b) == -EBADMSG);
        free(path);

        /* Final, then drop the burst. */
        check_ok(image_store_write_final(s, id, jpeg_stub, sizeof jpeg_stub));
        check_ok(image_store_drop_burst(s, id, &bytes));
        check(bytes < 1024);
        {
                int fd = image_store_open_jpeg(s, id, true);
                char buf[8];
                check(fd >= 0);
                check(read(fd, buf, 2) == 2 && (unsigned char) buf[0] == 0xff);
                check(write(fd, "x", 1) < 0); /* read-only */
                close(fd);
        }
        /* Ids that are not ids never reach the filesystem. */
        check(image_store_open_jpeg(s, "../../../../etc/passwd", false) == -ENOENT);
        check(image_store_remove(s, "..") == -ENOENT);

        check_ok(image_store_remove(s, id));
        check(image_store_open_jpeg(s, id, false) == -ENOENT);
        image_store_free(s);
        test_burst_done(&t);
}

static void test_scan(const char *state) {
        struct image_store *s;
        struct test_burst t;
        struct job_record rec;
        struct scan_result res = {};
        char good[IMAGE_ID_LEN + 1], running[IMAGE_ID_LEN + 1], broken[IMAGE_ID_LEN + 1];
        char half[IMAGE_ID_LEN + 1], *p;

        test_burst_init(&t, 32, 32, 2, 2);
        rec = make_record(&t);
        check_ok(image_store_open(state, 77, &s));

        check_ok(image_id_new(good));
        check_ok(image_store_create(s, good, &rec, &t.burst, jpeg_stub, sizeof jpeg_stub, NULL));

        check_ok(image_id_new(running));
        rec.state = IMAGE_STATE_RUNNING;
        rec.created_us++;
        check_ok(image_store_create(s, running, &rec, &t.burst, jpeg_stub, sizeof jpeg_stub, NULL));

        check_ok(image_id_new(broken));
        check_ok(image_store_create(s, broken, &rec, &t.burst, jpeg_stub, sizeof jpeg_stub, NULL));
        check(asprintf(&p, "%s/images/77/%s/record.json", state, broken) > 0);
        write_text(p, "{\"version\":1,\"state\":");
        free(p);

        /* A crash mid-create leaves ".new-<id>"; a crash mid-write leaves ".x.tmp" files. */
        check_ok(image_id_new(half));
        check(asprintf(&p, "%s/images/77/.new-%s", state, half) > 0);
        check(mkdir(p, 0700) == 0);
        free(p);
        check(asprintf(&p, "%s/images/77/.new-%s/burst.yuv", state, half) > 0);
        write_text(p, "partial");
        free(p);
        check(asprintf(&p, "%s/images/77/%s/.record.json.tmp", state, good) > 0);
        write_text(p, "{");
        free(p);
        check(asprintf(&p, "%s/images/77/stray-file", state) > 0);
        write_text(p, "junk");
        free(p);

        check_ok(image_store_scan(s, collect, &res));
        check(res.n == 2);
        for (unsigned i = 0; i < res.n; i++) {
                check(streq(res.ids[i], good) || streq(res.ids[i], running));
                check(res.recs[i].state == IMAGE_STATE_PENDING); /* running -> pending */
                check(res.bytes[i] > 0);
        }
        check(asprintf(&p, "%s/images/77/.new-%s", state, half) > 0);
        check(!test_exists(p));
        free(p);
        check(asprintf(&p, "%s/images/77/%s/.record.json.tmp", state, good) > 0);
        check(!test_exists(p));
        free(p);
        check(asprintf(&p, "%s/images/77/stray-file", state) > 0);
        check(!test_exists(p));
        free(p);
        check(asprintf(&p, "%s/images/77/.broken-%s", state, broken) > 0);
        check(test_exists(p)); /* moved aside, kept for inspection */
        free(p);

        /* The rewrite of running -> pending is on disk: a second scan agrees. */
        memset(&res, 0, sizeof res);
        check_ok(image_store_scan(s, collect, &res));
        check(res.n == 2 && res.recs[0].state == IMAGE_STATE_PENDING && res.recs[1].state == IMAGE_STATE_PENDING);

        {
                uid_t *uids;
                size_t n;
                check_ok(image_store_list_uids(state, &uids, &n));
                check(n == 2); /* 4242 and 77 */
                check((uids[0] == 77 && uids[1] == 4242) || (uids[0] == 4242 && uids[1] == 77));
                free(uids);
        }
        image_store_free(s);
        test_burst_done(&t);
}

/* A burst.yuv that can never be read as it is — a symlink (even to a valid burst), a FIFO,
 * a folder — or an image folder that is a symlink: -EBADMSG (a final "process" error),
 * at once and without blocking. */
static void test_unreadable_burst(const char *state) {
        struct image_store *s;
        struct test_burst t;
        struct job_record rec;
        struct stored_burst b;
        char id[IMAGE_ID_LEN + 1], *dir, *burst, *copy, *cmd;

        test_burst_init(&t, 32, 32, 2, 3);
        rec = make_record(&t);
        check_ok(image_id_new(id));
        check_ok(image_store_open(state, 5151, &s));
        check_ok(image_store_create(s, id, &rec, &t.burst, jpeg_stub, sizeof jpeg_stub, NULL));
        check(asprintf(&dir, "%s/images/5151/%s", state, id) > 0);
        check(asprintf(&burst, "%s/burst.yuv", dir) > 0);
        check(asprintf(&copy, "%s/outside-burst.yuv", state) > 0);
        check(asprintf(&cmd, "cp -p '%s' '%s'", burst, copy) > 0);
        check(system(cmd) == 0);
        free(cmd);
        check_ok(image_store_load_burst(s, id, &rec, &b));
        stored_burst_done(&b);

        check(unlink(burst) == 0 && symlink(copy, burst) == 0);
        check_r(image_store_load_burst(s, id, &rec, &b), -EBADMSG);
        check(unlink(burst) == 0 && mkfifo(burst, 0600) == 0);
        check_r(image_store_load_burst(s, id, &rec, &b), -EBADMSG); /* returns: no writer needed */
        check(unlink(burst) == 0 && mkdir(burst, 0700) == 0);
        check_r(image_store_load_burst(s, id, &rec, &b), -EBADMSG);
        check(rmdir(burst) == 0);
        check_r(image_store_load_burst(s, id, &rec, &b), -EBADMSG); /* missing */

        /* The image folder itself a symlink to a complete image. */
        check(asprintf(&cmd, "mkdir '%s/outside-image' && cp -p '%s' '%s/outside-image/burst.yuv' && "
                             "rm -r '%s' && ln -s '%s/outside-image' '%s'", state, copy, state, dir, state, dir) > 0);
        check(system(cmd) == 0);
        free(cmd);
        check_r(image_store_load_burst(s, id, &rec, &b), -EBADMSG);

        image_store_free(s);
        test_burst_done(&t);
        free(dir);
        free(burst);
        free(copy);
}

/* The scan makes the store private again: folders 0700, files 0600, never through a
 * symlink (whose target keeps its mode). */
static void test_scan_tightens_modes(const char *state) {
        struct image_store *s;
        struct test_burst t;
        struct job_record rec;
        struct scan_result res = {};
        char id[IMAGE_ID_LEN + 1], other[IMAGE_ID_LEN + 1], *p, *outside_file, *outside_dir;

        test_burst_init(&t, 32, 32, 2, 4);
        rec = make_record(&t);
        check_ok(image_store_open(state, 6161, &s));
        check_ok(image_id_new(id));
        check_ok(image_store_create(s, id, &rec, &t.burst, jpeg_stub, sizeof jpeg_stub, NULL));
        image_store_free(s);

        /* Widened by hand (or an older version), plus symlinks planted inside. */
        check(asprintf(&outside_file, "%s/outside-file", state) > 0);
        write_text(outside_file, "not the daemon's");
        check(chmod(outside_file, 0644) == 0);
        check(asprintf(&outside_dir, "%s/outside-dir", state) > 0);
        check(mkdir(outside_dir, 0755) == 0 && chmod(outside_dir, 0755) == 0);
        check(asprintf(&p, "chmod 0755 '%s/images' '%s/images/6161' '%s/images/6161/%s' && "
                           "chmod 0644 '%s/images/6161/%s/'* && ln -s '%s' '%s/images/6161/%s/final.jpg'",
                       state, state, state, id, state, id, outside_file, state, id) > 0);
        check(system(p) == 0);
        free(p);
        check_ok(image_id_new(other));
        check(asprintf(&p, "%s/images/6161/%s", state, other) > 0);
        check(symlink(outside_dir, p) == 0);
        free(p);

        check_ok(image_store_open(state, 6161, &s));
        check_ok(image_store_scan(s, collect, &res));
        check(res.n == 1 && streq(res.ids[0], id));
        check(asprintf(&p, "%s/images", state) > 0);
        check(test_mode_of(p) == 0700);
        free(p);
        check(asprintf(&p, "%s/images/6161", state) > 0);
        check(test_mode_of(p) == 0700);
        free(p);
        check(asprintf(&p, "%s/images/6161/%s", state, id) > 0);
        check(test_mode_of(p) == 0700);
        free(p);
        for (const char *const *f = (const char *const[]) { "burst.yuv", "proxy.jpg", "record.json", NULL }; *f; f++) {
                check(asprintf(&p, "%s/images/6161/%s/%s", state, id, *f) > 0);
                check(test_mode_of(p) == 0600);
                free(p);
        }
        /* Targets of symlinks keep their modes. */
        check(test_mode_of(outside_file) == 0644);
        check(test_mode_of(outside_dir) == 0755);
        image_store_free(s);
        test_burst_done(&t);
        free(outside_file);
        free(outside_dir);
}

int main(void) {
        char *state = test_make_state_dir();

        test_record_roundtrip();
        test_record_garbage();
        test_create_and_load(state);
        test_scan(state);
        test_unreadable_burst(state);
        test_scan_tightens_modes(state);
        test_rm_rf(state);
        free(state);
        return 0;
}
