/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "camctl/camctl.h"
#include "camctl/output.h"

int output_json(const cJSON *doc) {
        _cleanup_free_ char *text = cJSON_PrintUnformatted(doc);

        if (!text)
                return CAMCTL_EXIT_LOCAL;
        if (puts(text) < 0 || fflush(stdout) != 0)
                return CAMCTL_EXIT_LOCAL;
        return 0;
}

struct table {
        size_t n_columns;
        char **cells; /* row-major, headers first */
        size_t n_cells;
};

struct table *table_new(size_t n_columns, const char *const *headers) {
        struct table *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->n_columns = n_columns;
        for (size_t i = 0; i < n_columns; i++)
                if (table_add(t, "%s", headers[i]) < 0)
                        return table_free(t);
        return t;
}

struct table *table_free(struct table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

int table_add(struct table *t, const char *format, ...) {
        char **cells;
        char *s;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        cells = realloc(t->cells, (t->n_cells + 1) * sizeof(*cells));
        if (!cells) {
                free(s);
                return -ENOMEM;
        }
        t->cells = cells;
        t->cells[t->n_cells++] = s;
        return 0;
}

void table_print(const struct table *t, FILE *f) {
        size_t widths[16] = {};
        size_t n = MIN(t->n_columns, ELEMENTSOF(widths));

        for (size_t i = 0; i < t->n_cells; i++)
                if (i % t->n_columns < n)
                        widths[i % t->n_columns] = MAX(widths[i % t->n_columns], strlen(t->cells[i]));

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                bool last = col + 1 == t->n_columns || i + 1 == t->n_cells;

                if (last)
                        fprintf(f, "%s\n", t->cells[i]);
                else
                        fprintf(f, "%-*s  ", (int) (col < n ? widths[col] : 0), t->cells[i]);
        }
}
