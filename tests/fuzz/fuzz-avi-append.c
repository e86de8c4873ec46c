/* SPDX-License-Identifier: MIT */
/* The AVI writer reopening arbitrary bytes for append (the video resume path). Whatever it
 * accepts must, after one more frame and finish(), read back complete with exactly one
 * frame more, the new one last. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "media/avi-reader.h"
#include "media/avi-writer.h"
#include "shared/fd-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not a decodable picture, but starts and ends like a JPEG, which is all the AVI layer sees. */
static const uint8_t frame[] = { 0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x05, 'f', 'u', 'z', 0xFF, 0xD9 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(avi_reader_freep) struct avi_reader *r = NULL;
        _cleanup_(avi_writer_freep) struct avi_writer *w = NULL;
        _cleanup_close_ int fd = -1;
        char error[AVI_ERROR_MAX];
        uint8_t buf[sizeof(frame)];
        uint64_t n;

        fd = memfd_create("fuzz-avi-append", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        if (size > 0 && fd_write_all(fd, data, size) < 0)
                abort();

        /* A small RIFF limit so that appending crosses into new AVIX RIFFs. */
        if (avi_writer_open_append(fd, 4096, &w, error, sizeof(error)) < 0)
                return 0;
        n = avi_writer_frame_count(w);
        if (avi_writer_add_frame(w, frame, sizeof(frame)) < 0 || avi_writer_finish(w) < 0)
                abort();
        w = avi_writer_free(w);

        if (avi_reader_open(fd, &r, error, sizeof(error)) < 0)
                abort();
        if (!avi_reader_is_complete(r) || avi_reader_frame_count(r) != n + 1)
                abort();
        if (avi_reader_read_frame(r, n, buf, sizeof(buf)) != (int) sizeof(frame) ||
            memcmp(buf, frame, sizeof(frame)) != 0)
                abort();
        return 0;
}
