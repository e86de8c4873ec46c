/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "capture/video-monitor.h"
#include "shared/macro.h"

struct video_monitor {
        char *dir;
        int fd;
        video_monitor_fn callback;
        void *userdata;
        /* Known node numbers, unsorted; there are a handful at most. */
        unsigned *known;
        size_t n_known, n_allocated;
};

/* "video<digits>" → its number. */
static bool parse_name(const char *name, unsigned *ret) {
        if (strncmp(name, "video", 5) != 0 || name[5] < '0' || name[5] > '9')
                return false;
        char *end;
        errno = 0;
        unsigned long n = strtoul(name + 5, &end, 10);
        if (*end || errno || n > 65535)
                return false;
        *ret = (unsigned) n;
        return true;
}

static ssize_t known_index(const struct video_monitor *m, unsigned n) {
        for (size_t i = 0; i < m->n_known; i++)
                if (m->known[i] == n)
                        return (ssize_t) i;
        return -1;
}

static int known_add(struct video_monitor *m, unsigned n) {
        if (m->n_known == m->n_allocated) {
                size_t na = MAX(m->n_allocated * 2, (size_t) 8);
                unsigned *k = realloc(m->known, na * sizeof *k);
                if (!k)
                        return -ENOMEM;
                m->known = k;
                m->n_allocated = na;
        }
        m->known[m->n_known++] = n;
        return 0;
}

static void known_remove_at(struct video_monitor *m, size_t i) {
        m->known[i] = m->known[--m->n_known];
}

static void report(struct video_monitor *m, unsigned n, bool added) {
        char node[PATH_MAX];
        snprintf(node, sizeof node, "%s/video%u", m->dir, n);
        m->callback(m, node, added, m->userdata);
}

int video_monitor_new(const char *dir, video_monitor_fn callback, void *userdata,
                      struct video_monitor **ret) {
        if (!callback)
                return -EINVAL;
        struct video_monitor *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->callback = callback;
        m->userdata = userdata;
        m->dir = strdup(dir ?: "/dev");
        m->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (!m->dir || m->fd < 0) {
                int r = m->dir ? negative_errno() : -ENOMEM;
                video_monitor_free(m);
                return r;
        }
        if (inotify_add_watch(m->fd, m->dir,
                              IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO |
                                      IN_ONLYDIR) < 0) {
                int r = negative_errno();
                video_monitor_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

struct video_monitor *video_monitor_free(struct video_monitor *m) {
        if (!m)
                return NULL;
        safe_close(m->fd);
        free(m->dir);
        free(m->known);
        free(m);
        return NULL;
}

int video_monitor_fd(const struct video_monitor *m) {
        return m->fd;
}

static int compare_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return x < y ? -1 : x > y;
}

int video_monitor_scan(struct video_monitor *m) {
        _cleanup_free_ unsigned *present = NULL;
        size_t n_present = 0, n_alloc = 0;
        int reported = 0;

        DIR *d = opendir(m->dir);
        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                unsigned n;
                if (!parse_name(de->d_name, &n))
                        continue;
                if (n_present == n_alloc) {
                        n_alloc = MAX(n_alloc * 2, (size_t) 8);
                        unsigned *p = realloc(present, n_alloc * sizeof *p);
                        if (!p) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        present = p;
                }
                present[n_present++] = n;
        }
        closedir(d);
        if (n_present > 0)
                qsort(present, n_present, sizeof *present, compare_unsigned);

        /* Gone first, so a quickly replaced node reads as removed then added. */
        for (size_t i = 0; i < m->n_known;) {
                unsigned n = m->known[i];
                if (bsearch(&n, present, n_present, sizeof *present, compare_unsigned)) {
                        i++;
                        continue;
                }
                known_remove_at(m, i);
                report(m, n, false);
                reported++;
        }
        for (size_t i = 0; i < n_present; i++) {
                if (known_index(m, present[i]) >= 0)
                        continue;
                int r = known_add(m, present[i]);
                if (r < 0)
                        return r;
                report(m, present[i], true);
                reported++;
        }
        return reported;
}

void video_monitor_forget(struct video_monitor *m, const char *devnode) {
        const char *slash = strrchr(devnode, '/');
        unsigned n;
        if (!parse_name(slash ? slash + 1 : devnode, &n))
                return;
        ssize_t i = known_index(m, n);
        if (i >= 0)
                known_remove_at(m, (size_t) i);
}

int video_monitor_process(struct video_monitor *m) {
        /* Aligned as inotify(7) asks. */
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int reported = 0;
        bool overflow = false;

        for (;;) {
                ssize_t len = read(m->fd, buf, sizeof buf);
                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return negative_errno();
                }
                for (char *p = buf; p < buf + len;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        p += sizeof *e + e->len;
                        unsigned n;

                        if (e->mask & IN_Q_OVERFLOW) {
                                overflow = true;
                                continue;
                        }
                        if (e->len == 0 || !parse_name(e->name, &n))
                                continue;
                        ssize_t i = known_index(m, n);
                        if (e->mask & (IN_DELETE | IN_MOVED_FROM)) {
                                if (i < 0)
                                        continue;
                                known_remove_at(m, (size_t) i);
                                report(m, n, false);
                                reported++;
                        } else if (i < 0) { /* IN_CREATE, IN_MOVED_TO, IN_ATTRIB */
                                int r = known_add(m, n);
                                if (r < 0)
                                        return r;
                                report(m, n, true);
                                reported++;
                        }
                }
        }

        if (overflow) { /* events were lost: the directory itself is the truth */
                int r = video_monitor_scan(m);
                if (r < 0)
                        return r;
                reported += r;
        }
        return reported;
}
