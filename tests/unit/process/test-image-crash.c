/* SPDX-License-Identifier: MIT */
/* kill -9 at random points while images are added and processed with the real pipeline: no
 * image whose add() returned is ever lost, no record is ever unreadable, every final.jpg that
 * exists decodes, and after the last restart everything ends done. */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "media/jpeg.h"
#include "process-test.h"
#include "process/image-processor.h"
#include "shared/macro.h"
#include "shared/mailbox.h"

#define ROUNDS 24
#define MAX_IDS 4096

static char ids[MAX_IDS][IMAGE_ID_LEN + 1];
static unsigned n_ids;

static struct process_config config(void) {
        struct process_config c;
        process_config_init(&c);
        c.concurrency[EXEC_MODE_HIGH_PERFORMANCE] = 2;
        c.default_mode = EXEC_MODE_HIGH_PERFORMANCE;
        c.low_power_sched_idle = false;
        return c;
}

static void open_processor(const char *state, struct mailbox **mb, struct worker_pool **pool,
                           struct image_processor **p) {
        struct process_config c = config();

        check_ok(mailbox_new(mb));
        check_ok(pool_new(&c, pool));
        check_ok(image_processor_new(&(struct image_processor_params) {
                        .uid = 1000, .state_dir = state, .config = &c, .pool = *pool, .mailbox = *mb,
                }, p));
}

static void close_processor(struct mailbox *mb, struct worker_pool *pool, struct image_processor *p) {
        image_processor_free(p);
        pool_unref(pool);
        mailbox_dispatch(mb);
        mailbox_free(mb);
}

/* The child: resume what is pending, add images as fast as it can, report each id once
 * add() has returned. Killed by the parent at a random moment. */
_Noreturn static void child(const char *state, int fd, unsigned seed) {
        struct mailbox *mb;
        struct worker_pool *pool;
        struct image_processor *p;
        struct test_burst t;

        open_processor(state, &mb, &pool, &p);
        test_burst_init(&t, 96, 64, 3, seed);
        for (unsigned i = 0;; i++) {
                char id[IMAGE_ID_LEN + 1];
                t.burst.deferred = i % 3 != 0;
                check_ok(image_processor_add(p, &t.burst, id));
                check(write(fd, id, IMAGE_ID_LEN) == IMAGE_ID_LEN);
                mailbox_dispatch(mb);
        }
}

static void verify(const char *state, bool finish) {
        struct mailbox *mb;
        struct worker_pool *pool;
        struct image_processor *p;
        struct jpeg_decoder *d;
        char *path;
        DIR *dir;
        struct dirent *de;

        open_processor(state, &mb, &pool, &p);
        check_ok(jpeg_decoder_new(&d));

        /* Nothing had to be moved aside: no record was ever half-written. */
        check(asprintf(&path, "%s/images/1000", state) > 0);
        dir = opendir(path);
        check(dir);
        while ((de = readdir(dir)))
                check(strncmp(de->d_name, ".broken-", 8) != 0);
        closedir(dir);
        free(path);

        if (finish)
                check_ok(pool_wait_idle(pool, 120000000));
        for (unsigned i = 0; i < n_ids; i++) {
                struct image_info info;
                bool final;
                int fd;

                check_ok(image_processor_get_info(p, ids[i], &info)); /* never lost */
                check(info.state != IMAGE_STATE_ERROR);
                if (finish)
                        check(info.state == IMAGE_STATE_DONE);
                check_ok(image_processor_open_image(p, ids[i], &fd, &final));
                {
                        struct yuv_image img = {};
                        off_t size = lseek(fd, 0, SEEK_END);
                        uint8_t *buf = malloc((size_t) size);
                        check(buf && pread(fd, buf, (size_t) size, 0) == size);
                        check_ok(jpeg_decode(d, buf, (size_t) size, &img)); /* every JPEG decodes */
                        check(img.width == 96 && img.height == 64);
                        yuv_image_done(&img);
                        free(buf);
                }
                close(fd);
        }
        jpeg_decoder_free(d);
        close_processor(mb, pool, p);
}

int main(void) {
        char *state = test_make_state_dir();
        unsigned kills = 0;

        srand(12345);
        for (unsigned round = 0; round < ROUNDS; round++) {
                int fds[2];
                pid_t pid;
                char id[IMAGE_ID_LEN + 1] = {};
                ssize_t n;

                check(pipe(fds) == 0);
                pid = fork();
                check(pid >= 0);
                if (pid == 0) {
                        close(fds[0]);
                        child(state, fds[1], round);
                }
                close(fds[1]);
                /* After the child's first image (slow under valgrind), at a random moment. */
                {
                        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
                        check(poll(&pfd, 1, 120000) == 1);
                        check(read(fds[0], id, IMAGE_ID_LEN) == IMAGE_ID_LEN);
                        memcpy(ids[n_ids++], id, IMAGE_ID_LEN + 1);
                }
                test_sleep_ms(rand() % 150);
                check(kill(pid, SIGKILL) == 0);
                check(waitpid(pid, NULL, 0) == pid);
                kills++;
                while ((n = read(fds[0], id, IMAGE_ID_LEN)) == IMAGE_ID_LEN) {
                        check(n_ids < MAX_IDS);
                        memcpy(ids[n_ids++], id, IMAGE_ID_LEN + 1);
                }
                close(fds[0]);
                verify(state, false);
        }
        printf("%u kills, %u images added; all present and decodable after each\n", kills, n_ids);
        check(n_ids >= ROUNDS);
        verify(state, true);
        test_rm_rf(state);
        free(state);
        return 0;
}
