/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>

#include "macro.h"
#include "fd-util.h"
#include "mailbox.h"

struct letter {
        struct letter *next;
        mailbox_fn fn;
        void *userdata;
};

struct mailbox {
        pthread_mutex_t lock;
        struct letter *head, *tail;
        int efd;
};

int mailbox_new(struct mailbox **ret) {
        struct mailbox *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->efd < 0) {
                int r = negative_errno();
                free(m);
                return r;
        }
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

struct mailbox *mailbox_free(struct mailbox *m) {
        if (!m)
                return NULL;
        /* Undelivered letters are dropped; their owners are gone with the loop. */
        for (struct letter *l = m->head, *n; l; l = n) {
                n = l->next;
                free(l);
        }
        safe_close(m->efd);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

int mailbox_fd(struct mailbox *m) {
        return m->efd;
}

int mailbox_post(struct mailbox *m, mailbox_fn fn, void *userdata) {
        struct letter *l = malloc(sizeof *l);
        uint64_t one = 1;

        if (!l)
                return -ENOMEM;
        *l = (struct letter) { .fn = fn, .userdata = userdata };
        pthread_mutex_lock(&m->lock);
        if (m->tail)
                m->tail->next = l;
        else
                m->head = l;
        m->tail = l;
        pthread_mutex_unlock(&m->lock);
        (void) !write(m->efd, &one, sizeof one);
        return 0;
}

int mailbox_dispatch(struct mailbox *m) {
        struct letter *list;
        uint64_t count;
        int n = 0;

        (void) !read(m->efd, &count, sizeof count);
        pthread_mutex_lock(&m->lock);
        list = m->head;
        m->head = m->tail = NULL;
        pthread_mutex_unlock(&m->lock);

        while (list) {
                struct letter *l = list;
                list = l->next;
                l->fn(l->userdata);
                free(l);
                n++;
        }
        return n;
}
