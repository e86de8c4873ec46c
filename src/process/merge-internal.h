/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared between merge.c (weights and blend) and merge-align.c (pyramid and alignment); not
 * for use outside the burst merge. */

#include <stdbool.h>
#include <stdint.h>

#include "process/merge.h"

#define TILE 16
#define STEP 8
#define MAX_FRAMES 16

struct plane {
        uint8_t *data;
        unsigned w, h;
};

struct vec {
        int x, y;
};

struct pyramid {
        struct plane level[3];
};

bool merge_cancelled(const struct merge_request *req);

/* Levels x1, x1/2, x1/4 of a luma plane; level 0 borrows y. 0 or -ENOMEM; undo with
 * merge_pyramid_done() either way. */
int merge_pyramid_build(struct pyramid *p, const uint8_t *y, unsigned w, unsigned h);
void merge_pyramid_done(struct pyramid *p);

/* Fills field[(f * ny + j) * nx + i] with the displacement of frame f for the tile at
 * (xs[i], ys[j]) against the reference (the last frame, which gets 0). 0 or -ECANCELED. */
int merge_align_field(const struct merge_request *req, const struct pyramid *pyr, const int *xs, unsigned nx,
                      const int *ys, unsigned ny, struct vec *field);
