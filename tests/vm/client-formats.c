/* SPDX-License-Identifier: MIT */
/* Camera.Formats against what the kernel itself enumerates for the fourccs asked (YUYV and
 * NV12 unless told). */

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-bus.h"
#include "client-session.h"
#include "client-v4l2.h"
#include "shared/macro.h"

struct listed_format {
        char fourcc[8];
        unsigned width, height;
        double fps;
};

static int read_formats(sd_bus *bus, const char *camera, struct listed_format **ret, size_t *n,
                        char *detail, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *fourcc;
        unsigned w, h;
        double fps;
        int r;

        r = sd_bus_get_property(bus, CAMERAD_SERVICE, camera, CAMERAD_IFACE_CAMERA, "Formats", &e, &reply,
                                "a(suud)");
        if (r < 0)
                return report_bus_error(detail, size, "Camera.Formats", &e, r);
        r = sd_bus_message_enter_container(reply, 'a', "(suud)");
        if (r < 0)
                return report_bus_error(detail, size, "Camera.Formats reply", NULL, r);
        while ((r = sd_bus_message_read(reply, "(suud)", &fourcc, &w, &h, &fps)) > 0) {
                struct listed_format *grown = realloc(*ret, (*n + 1) * sizeof **ret);

                if (!grown)
                        return -ENOMEM;
                *ret = grown;
                grown[*n] = (struct listed_format) { .width = w, .height = h, .fps = fps };
                snprintf(grown[*n].fourcc, sizeof grown[*n].fourcc, "%s", fourcc);
                (*n)++;
        }
        return r < 0 ? report_bus_error(detail, size, "Camera.Formats reply", NULL, r) : 0;
}

static const struct listed_format *find_listed(const struct listed_format *l, size_t n, const char *fourcc,
                                               unsigned w, unsigned h) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].fourcc, fourcc) && l[i].width == w && l[i].height == h)
                        return &l[i];
        return NULL;
}

static bool fourcc_asked(const char *list, const char *fourcc) {
        for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
                size_t n = strcspn(p, ",");

                if (n == strlen(fourcc) && strncmp(p, fourcc, n) == 0)
                        return true;
        }
        return false;
}

int bus_check_formats(const char *devnode, const char *camera, const char *fourccs, char *detail,
                      size_t size) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ struct native_format *kernel = NULL;
        _cleanup_free_ struct listed_format *listed = NULL;
        size_t n_kernel = 0, n_listed = 0;
        int r;

        for (const char *p = fourccs; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
                char one[5] = "";

                memcpy(one, p, MIN(strcspn(p, ","), (size_t) 4));
                r = v4l2_native_formats(devnode, fourcc_from_string(one), &kernel, &n_kernel);
                if (r < 0)
                        return report_bus_error(detail, size, devnode, NULL, r);
        }
        if (n_kernel == 0) {
                snprintf(detail, size, "%s enumerates no discrete %s sizes", devnode, fourccs);
                return -ENOENT;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return report_bus_error(detail, size, "connecting to the system bus", NULL, r);
        r = read_formats(bus, camera, &listed, &n_listed, detail, size);
        if (r < 0)
                return r;

        /* Every native size is listed with the kernel's best rate... */
        for (size_t i = 0; i < n_kernel; i++) {
                const struct native_format *k = &kernel[i];
                char fourcc[5];
                const struct listed_format *l;

                memcpy(fourcc, &k->fourcc, 4);
                fourcc[4] = 0;
                l = find_listed(listed, n_listed, fourcc, k->width, k->height);
                if (!l) {
                        snprintf(detail, size, "the kernel offers %s %ux%u, Camera.Formats lacks it", fourcc,
                                 k->width, k->height);
                        return -ENOENT;
                }
                if (fabs(l->fps - k->max_fps) > 0.01 * k->max_fps + 0.01) {
                        snprintf(detail, size, "%s %ux%u: Formats says %.3f fps, the kernel %.3f", fourcc,
                                 k->width, k->height, l->fps, k->max_fps);
                        return -EINVAL;
                }
        }
        /* ...and no size of those fourccs is listed that the kernel does not offer. */
        for (size_t i = 0; i < n_listed; i++) {
                const struct listed_format *l = &listed[i];
                bool offered = false;

                if (!fourcc_asked(fourccs, l->fourcc))
                        continue;
                for (size_t j = 0; j < n_kernel; j++)
                        offered = offered || (kernel[j].fourcc == fourcc_from_string(l->fourcc) &&
                                              kernel[j].width == l->width && kernel[j].height == l->height);
                if (!offered) {
                        snprintf(detail, size, "Formats lists %s %ux%u, which the kernel does not offer", l->fourcc,
                                 l->width, l->height);
                        return -EINVAL;
                }
        }
        snprintf(detail, size, "all %zu %s sizes of the kernel listed with their rates (%zu Formats entries)",
                 n_kernel, fourccs, n_listed);
        return 0;
}
