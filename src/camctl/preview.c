/* SPDX-License-Identifier: MIT */
/* camctl preview: copy the PreviewOutput's YUV4MPEG2 stream to a file or stdout, whole
 * frames only, until SIGINT, a closed pipe, --frames or --seconds. */

#include <fcntl.h>
#include <poll.h>

#include "camctl/capture.h"
#include "camctl/client.h"
#include "camctl/output.h"
#include "shared/fd-util.h"

#define Y4M_LINE_MAX 1024

struct reader {
        int fd;
        char buf[65536];
        size_t start, end;
};

/* Waits for data until deadline (0 = none). 0 on data, -ETIME when the deadline passed,
 * -EINTR on a stop request. */
static int reader_wait(struct reader *rd, uint64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = rd->fd, .events = POLLIN };
                int timeout_ms = -1;

                if (camctl_stop_requested)
                        return -EINTR;
                if (deadline > 0) {
                        uint64_t now = camctl_now_usec();
                        if (now >= deadline)
                                return -ETIME;
                        timeout_ms = (int) MIN((deadline - now + 999) / 1000, 1000000u);
                }
                int n = poll(&p, 1, timeout_ms);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        return 0;
        }
}

/* Fills the buffer; 0 on EOF, > 0 bytes added, < 0 error. Retries EINTR: a frame is always
 * read to its end once begun. */
static ssize_t reader_fill(struct reader *rd) {
        if (rd->start > 0) {
                memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
                rd->end -= rd->start;
                rd->start = 0;
        }
        for (;;) {
                ssize_t n = read(rd->fd, rd->buf + rd->end, sizeof(rd->buf) - rd->end);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                rd->end += (size_t) n;
                return n;
        }
}

/* Reads one '\n'-terminated line (kept with its '\n') into line. */
static int reader_line(struct reader *rd, char *line, size_t size, size_t *ret_len) {
        for (;;) {
                char *nl = memchr(rd->buf + rd->start, '\n', rd->end - rd->start);
                if (nl) {
                        size_t len = (size_t) (nl - (rd->buf + rd->start)) + 1;
                        if (len >= size)
                                return -EBADMSG;
                        memcpy(line, rd->buf + rd->start, len);
                        line[len] = '\0';
                        rd->start += len;
                        *ret_len = len;
                        return 0;
                }
                if (rd->end - rd->start >= size)
                        return -EBADMSG;
                ssize_t n = reader_fill(rd);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        return rd->end == rd->start ? -ENODATA : -EBADMSG;
        }
}

static int reader_exact(struct reader *rd, uint8_t *out, size_t size) {
        while (size > 0) {
                if (rd->start == rd->end) {
                        ssize_t n = reader_fill(rd);
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                return -EBADMSG;
                }
                size_t k = MIN(size, rd->end - rd->start);
                memcpy(out, rd->buf + rd->start, k);
                rd->start += k;
                out += k;
                size -= k;
        }
        return 0;
}

/* Bytes of one frame from the stream header's W, H and C tags. */
static int y4m_frame_size(const char *header, unsigned *ret_w, unsigned *ret_h, size_t *ret_size) {
        unsigned w = 0, h = 0;
        const char *chroma = "420";
        size_t cw, ch;

        if (strncmp(header, "YUV4MPEG2 ", 10) != 0)
                return -EBADMSG;
        for (const char *p = header + 9; p && *p; p = strchr(p + 1, ' ')) {
                const char *tag = p + 1;
                if (tag[0] == 'W')
                        w = (unsigned) strtoul(tag + 1, NULL, 10);
                else if (tag[0] == 'H')
                        h = (unsigned) strtoul(tag + 1, NULL, 10);
                else if (tag[0] == 'C')
                        chroma = tag + 1;
        }
        if (w == 0 || h == 0 || w > 16384 || h > 16384)
                return -EBADMSG;
        if (strncmp(chroma, "420", 3) == 0)
                cw = (w + 1) / 2, ch = (h + 1) / 2;
        else if (strncmp(chroma, "422", 3) == 0)
                cw = (w + 1) / 2, ch = h;
        else if (strncmp(chroma, "444", 3) == 0)
                cw = w, ch = h;
        else if (strncmp(chroma, "mono", 4) == 0)
                cw = 0, ch = 0;
        else
                return -EBADMSG;
        *ret_w = w;
        *ret_h = h;
        *ret_size = (size_t) w * h + 2 * cw * ch;
        return 0;
}

struct copy_result {
        uint64_t frames;
        unsigned width, height;
        bool pipe_closed;
};

static int copy_stream(struct camctl *c, int in_fd, int out_fd, struct copy_result *res) {
        static struct reader rd; /* 64 KiB: keep it off the stack */
        _cleanup_free_ uint8_t *frame = NULL;
        char line[Y4M_LINE_MAX];
        uint64_t deadline = c->args->seconds >= 0 ? camctl_now_usec() + (uint64_t) (c->args->seconds * 1e6) : 0;
        size_t len, frame_size = 0;
        int r;

        rd = (struct reader) { .fd = in_fd };
        r = reader_wait(&rd, deadline);
        if (r == 0)
                r = reader_line(&rd, line, sizeof(line), &len);
        if (r == 0)
                r = y4m_frame_size(line, &res->width, &res->height, &frame_size);
        if (r == -EINTR || r == -ETIME)
                return 0;
        if (r < 0)
                return camctl_error(CAMCTL_EXIT_FAILED, "the preview stream did not start with a YUV4MPEG2 header");
        frame = malloc(frame_size);
        if (!frame)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");

        r = fd_write_all(out_fd, line, len);
        while (r >= 0) {
                size_t frame_line_len;
                char frame_line[Y4M_LINE_MAX];

                if (c->args->frames > 0 && res->frames >= c->args->frames)
                        return 0;
                r = reader_wait(&rd, deadline);
                if (r == -EINTR || r == -ETIME)
                        return 0;
                if (r >= 0)
                        r = reader_line(&rd, frame_line, sizeof(frame_line), &frame_line_len);
                if (r == -ENODATA)
                        return camctl_error(CAMCTL_EXIT_FAILED, "camerad ended the preview stream");
                if (r >= 0 && strncmp(frame_line, "FRAME", 5) != 0)
                        r = -EBADMSG;
                if (r >= 0)
                        r = reader_exact(&rd, frame, frame_size);
                if (r < 0)
                        return camctl_error(CAMCTL_EXIT_FAILED, "the preview stream broke off: %s",
                                            r == -EBADMSG ? "not a whole YUV4MPEG2 frame" : strerror(-r));
                r = fd_write_all(out_fd, frame_line, frame_line_len);
                if (r >= 0)
                        r = fd_write_all(out_fd, frame, frame_size);
                if (r >= 0)
                        res->frames++;
        }
        if (r == -EPIPE) {
                /* The viewer closed: the normal way for `camctl preview | ffplay -` to end. */
                res->pipe_closed = true;
                return 0;
        }
        return camctl_error(CAMCTL_EXIT_LOCAL, "cannot write the stream: %s", strerror(-r));
}

int verb_preview(struct camctl *c, int argc, char **argv) {
        const struct camctl_args *a = c->args;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        _cleanup_close_ int out_fd = -1;
        const char *path = a->output ?: "-";
        bool to_stdout = streq(path, "-");
        struct capture_session cs;
        struct copy_result res = {};
        uint64_t t0, dropped = 0;
        int stream_fd, r;

        if (!doc)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        if (to_stdout && isatty(STDOUT_FILENO))
                return camctl_error(CAMCTL_EXIT_USAGE,
                                    "standard output is a terminal; pipe it (camctl preview | ffplay -) or use -o FILE");
        if (!to_stdout) {
                out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
                if (out_fd < 0)
                        return camctl_error(CAMCTL_EXIT_LOCAL, "cannot create '%s': %s", path, strerror(errno));
        }
        /* A closed pipe must come back as EPIPE, not kill camctl before it releases the camera. */
        signal(SIGPIPE, SIG_IGN);
        camctl_catch_signals();

        r = capture_open(c, "photo", "preview", &cs);
        if (r != 0) {
                if (!to_stdout)
                        (void) unlink(path); /* created above, nothing streamed into it */
                return r;
        }
        r = camctl_call(c, cs.output_path, CAMERAD_IFACE_PREVIEW, "OpenStream", &reply, "");
        if (r == 0 && sd_bus_message_read(reply, "h", &stream_fd) < 0)
                r = camctl_error(CAMCTL_EXIT_FAILED, "OpenStream: the reply carries no file descriptor");
        t0 = camctl_now_usec();
        if (r == 0)
                r = copy_stream(c, stream_fd, to_stdout ? STDOUT_FILENO : out_fd, &res);

        if (cs.output_path) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                if (camctl_get_property(c, cs.output_path, CAMERAD_IFACE_PREVIEW, "DroppedFrames", "t", &m) == 0)
                        (void) sd_bus_message_read(m, "t", &dropped);
        }
        capture_close(c, &cs);
        if (r != 0)
                return r;

        double seconds = (double) (camctl_now_usec() - t0) / 1e6;
        if (a->json) {
                cJSON_AddStringToObject(doc, "file", path);
                cJSON_AddNumberToObject(doc, "frames", (double) res.frames);
                cJSON_AddNumberToObject(doc, "width", res.width);
                cJSON_AddNumberToObject(doc, "height", res.height);
                cJSON_AddNumberToObject(doc, "seconds", seconds);
                cJSON_AddNumberToObject(doc, "dropped", (double) dropped);
                if (!to_stdout)
                        return output_json(doc);
                _cleanup_free_ char *text = cJSON_PrintUnformatted(doc);
                fprintf(stderr, "%s\n", text ?: "{}");
        } else
                fprintf(stderr, "camctl: preview: %llu frames of %ux%u in %.1f s, %llu dropped by camerad%s\n",
                        (unsigned long long) res.frames, res.width, res.height, seconds,
                        (unsigned long long) dropped, res.pipe_closed ? " (the reader closed the pipe)" : "");
        return 0;
}
