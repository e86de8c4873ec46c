/* SPDX-License-Identifier: MIT */
/* The AVI reader on arbitrary bytes: open, inspect every stream, read every frame. Any crash,
 * leak, hang or unbounded allocation here is a bug the daemon would have on a hostile file. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "media/avi-reader.h"
#include "shared/fd-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(avi_reader_freep) struct avi_reader *r = NULL;
        _cleanup_close_ int fd = -1;
        char error[AVI_ERROR_MAX];
        uint32_t rate, scale;

        fd = memfd_create("fuzz-avi", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        if (size > 0 && fd_write_all(fd, data, size) < 0)
                abort();

        if (avi_reader_open(fd, &r, error, sizeof(error)) < 0) {
                if (error[0] == 0)
                        abort(); /* every refusal must say why */
                return 0;
        }

        for (unsigned i = 0; i < avi_reader_n_streams(r); i++)
                if (!avi_reader_stream(r, i))
                        abort();
        avi_reader_frame_rate(r, &rate, &scale);
        if (rate == 0 || scale == 0)
                abort();
        (void) avi_reader_duration_us(r);

        for (uint64_t i = 0; i < avi_reader_frame_count(r); i++) {
                size_t frame_size;
                uint8_t *buf;

                if (avi_reader_frame_size(r, i, &frame_size) < 0)
                        abort();
                /* The reader promised frames inside the file. */
                if (frame_size == 0 || frame_size > size)
                        abort();
                buf = malloc(frame_size);
                if (!buf)
                        abort();
                (void) avi_reader_read_frame(r, i, buf, frame_size);
                free(buf);
        }
        return 0;
}
