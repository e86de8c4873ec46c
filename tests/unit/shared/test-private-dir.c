/* SPDX-License-Identifier: MIT */
/* The private-folder helper: mkdir -p, <state>/<kind>/<uid> created and opened 0700, a
 * symlink or a file at either level refused without touching what it points at. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "shared/private-dir.h"

static char root[] = "/tmp/test-private-dir-XXXXXX";

static char *path(const char *rel) {
        char *p;
        check(asprintf(&p, "%s/%s", root, rel) >= 0);
        return p;
}

static mode_t mode_of(const char *rel) {
        char *p = path(rel);
        struct stat st;
        check(lstat(p, &st) == 0);
        free(p);
        return st.st_mode;
}

static void sh(const char *cmd) {
        char *c;
        check(asprintf(&c, "cd '%s' && %s", root, cmd) >= 0);
        check(system(c) == 0);
        free(c);
}

static void test_mkdir_parents(void) {
        char *p = path("a/b/c");

        check_ok(mkdir_parents(p, 0700));
        check(S_ISDIR(mode_of("a")) && (mode_of("a") & 07777) == 0755);
        check((mode_of("a/b") & 07777) == 0755);
        check((mode_of("a/b/c") & 07777) == 0700);
        /* An existing folder is fine; a file in the way is not. */
        check_ok(mkdir_parents(p, 0700));
        free(p);
        sh("touch file");
        p = path("file/sub");
        check_r(mkdir_parents(p, 0700), -ENOTDIR);
        free(p);
}

static void test_user_dir(void) {
        char *state = path("state/deep");
        struct stat st;
        int fd;

        /* Created from nothing, both levels 0700, and the fd is the uid's folder. */
        fd = open_private_user_dir(state, "images", 42);
        check(fd >= 0);
        check(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
        check((mode_of("state/deep/images") & 07777) == 0700);
        check((mode_of("state/deep/images/42") & 07777) == 0700);
        close(fd);

        /* Wider folders left by hand are tightened. */
        sh("chmod 0755 state/deep/images state/deep/images/42");
        fd = open_private_user_dir(state, "images", 42);
        check(fd >= 0);
        close(fd);
        check((mode_of("state/deep/images") & 07777) == 0700);
        check((mode_of("state/deep/images/42") & 07777) == 0700);

        /* A symlink at either level is refused, and nothing is created where it points. */
        sh("mkdir outside && ln -s ../../outside state/deep/videos");
        check_r(open_private_user_dir(state, "videos", 7), -ELOOP);
        sh("test ! -e outside/7");
        sh("ln -s ../../../outside/8 state/deep/images/8");
        check_r(open_private_user_dir(state, "images", 8), -ELOOP);
        sh("test ! -e outside/8");
        /* A file instead of the folder. */
        sh("touch state/deep/images/9");
        check_r(open_private_user_dir(state, "images", 9), -ENOTDIR);
        check(*private_dir_refusal(-ELOOP) && *private_dir_refusal(-ENOTDIR) && !*private_dir_refusal(-EACCES));
        free(state);
}

int main(void) {
        check(mkdtemp(root));
        test_mkdir_parents();
        test_user_dir();
        sh("rm -rf -- *");
        check(rmdir(root) == 0);
        printf("test-private-dir: ok\n");
        return 0;
}
