/* SPDX-License-Identifier: MIT */
/* camctl controls CAMERA, camctl set CAMERA NAME=VALUE…
 *
 * Setting needs a session that committed on the camera (Session.SetControls), so `set`
 * makes a short one: a photo session with one photo output in the camera's first format,
 * committed but never started (nothing is streamed), SetControls, Release. Values stay
 * with the camera afterwards. A camera another session holds answers Conflict at the
 * commit: its owner sets the controls through its own session. */

#include <inttypes.h>
#include <strings.h>

#include "camctl/capture.h"
#include "camctl/client.h"
#include "camctl/output.h"

/* One control's a{sv} as JSON: numbers, strings, booleans, and "menu" as an object of
 * index (as text) → name. */
static int read_control(sd_bus_message *m, cJSON *o) {
        const char *key, *contents;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                if (streq(contents, "a{xs}")) {
                        cJSON *menu = cJSON_AddObjectToObject(o, key);
                        int64_t index;
                        const char *name;

                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r >= 0)
                                r = sd_bus_message_enter_container(m, 'a', "{xs}");
                        while (r >= 0 && (r = sd_bus_message_read(m, "{xs}", &index, &name)) > 0) {
                                char k[32];
                                snprintf(k, sizeof k, "%" PRId64, index);
                                cJSON_AddStringToObject(menu, k, name);
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else if (streq(contents, "x")) {
                        int64_t v;
                        r = sd_bus_message_read(m, "v", "x", &v);
                        cJSON_AddNumberToObject(o, key, (double) v);
                } else if (streq(contents, "b")) {
                        int v;
                        r = sd_bus_message_read(m, "v", "b", &v);
                        cJSON_AddBoolToObject(o, key, v);
                } else if (streq(contents, "s")) {
                        const char *v;
                        r = sd_bus_message_read(m, "v", "s", &v);
                        if (r >= 0)
                                cJSON_AddStringToObject(o, key, v);
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

/* Camera.Controls as a JSON object keyed by control name. */
static int get_controls(struct camctl *c, const char *path, cJSON **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *all = cJSON_CreateObject();
        const char *name;
        int r;

        if (!all)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = camctl_get_property(c, path, CAMERAD_IFACE_CAMERA, "Controls", "a{sa{sv}}", &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        break;
                cJSON *o = cJSON_AddObjectToObject(all, name);
                if (!o)
                        return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
                r = read_control(reply, o);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return camctl_bus_error(NULL, r, "Controls");
        *ret = TAKE_PTR(all);
        return 0;
}

static double number(const cJSON *o, const char *key) {
        return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char *menu_item(const cJSON *o, double value) {
        char k[32];
        snprintf(k, sizeof k, "%.0f", value);
        return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "menu"), k));
}

int verb_controls(struct camctl *c, int argc, char **argv) {
        static const char *const headers[] = { "NAME", "TYPE", "VALUE", "DEFAULT", "RANGE", "FLAGS" };
        _cleanup_(table_freep) struct table *t = table_new(ELEMENTSOF(headers), headers);
        _cleanup_(cJSON_Deletep) cJSON *all = NULL;
        _cleanup_free_ char *path = NULL;
        const cJSON *o;
        int r;

        if (!t)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = capture_resolve_camera(c, argv[0], &path);
        if (r == 0)
                r = get_controls(c, path, &all);
        if (r != 0)
                return r;
        if (c->args->json)
                return output_json(all);
        if (cJSON_GetArraySize(all) == 0) {
                printf("No controls.\n");
                return 0;
        }

        cJSON_ArrayForEach(o, all) {
                const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type")) ?: "?";
                bool ro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "read-only"));
                bool inactive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "inactive"));
                double value = number(o, "value"), def = number(o, "default");

                table_add(t, "%s", o->string);
                table_add(t, "%s", type);
                if (streq(type, "menu")) {
                        _cleanup_free_ char *items = NULL;
                        const cJSON *i;

                        table_add(t, "%s", menu_item(o, value) ?: "?");
                        table_add(t, "%s", menu_item(o, def) ?: "?");
                        cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(o, "menu")) {
                                char *n = NULL;
                                if (asprintf(&n, "%s%s%s", items ?: "", items ? ", " : "",
                                             cJSON_GetStringValue(i) ?: "") < 0)
                                        return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
                                free(items);
                                items = n;
                        }
                        table_add(t, "%s", items ?: "");
                } else if (streq(type, "boolean")) {
                        table_add(t, "%s", value ? "true" : "false");
                        table_add(t, "%s", def ? "true" : "false");
                        table_add(t, "%s", "");
                } else {
                        table_add(t, "%.0f", value);
                        table_add(t, "%.0f", def);
                        if (number(o, "step") > 1)
                                table_add(t, "%.0f..%.0f step %.0f", number(o, "min"), number(o, "max"), number(o, "step"));
                        else
                                table_add(t, "%.0f..%.0f", number(o, "min"), number(o, "max"));
                }
                table_add(t, "%s", ro && inactive ? "read-only,inactive" : ro ? "read-only" : inactive ? "inactive" : "");
        }
        table_print(t, stdout);
        return 0;
}

static bool parse_int64(const char *s, int64_t *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 0);
        if (errno != 0 || end == s || *end)
                return false;
        *ret = v;
        return true;
}

/* NAME=VALUE as the control's type wants it: integers as x, booleans as b (true/false,
 * yes/no, on/off, 1/0), menus by item name (s) or number (x). Names camerad does not know
 * go as given, and camerad says what is wrong. */
static int append_setting(sd_bus_message *m, const cJSON *all, const char *arg) {
        _cleanup_free_ char *name = strdup(arg);
        char *value = name ? strchr(name, '=') : NULL;
        int64_t x;

        if (!name)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        if (!value || value == name)
                return camctl_error(CAMCTL_EXIT_USAGE, "'%s' is not NAME=VALUE (see 'camctl controls')", arg);
        *value++ = '\0';
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(all, name);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type")) ?: "";
        int r;

        if (streq(type, "boolean")) {
                int b = -1;
                if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") || streq(value, "1"))
                        b = 1;
                else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcasecmp(value, "off") || streq(value, "0"))
                        b = 0;
                if (b < 0)
                        return camctl_error(CAMCTL_EXIT_USAGE, "%s is a boolean: give true or false, not '%s'", name, value);
                r = sd_bus_message_append(m, "{sv}", name, "b", b);
        } else if (streq(type, "menu")) {
                bool is_item = false;
                const cJSON *i;
                cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(o, "menu"))
                        is_item = is_item || strcasecmp(cJSON_GetStringValue(i) ?: "", value) == 0;
                if (!is_item && parse_int64(value, &x))
                        r = sd_bus_message_append(m, "{sv}", name, "x", x);
                else
                        r = sd_bus_message_append(m, "{sv}", name, "s", value);
        } else if (parse_int64(value, &x))
                r = sd_bus_message_append(m, "{sv}", name, "x", x);
        else
                r = sd_bus_message_append(m, "{sv}", name, "s", value);
        return r < 0 ? camctl_bus_error(NULL, r, "SetControls") : 0;
}

/* The short session's output: the camera's first listed format. */
static int first_profile(struct camctl *c, const char *camera, char fourcc[static 5], uint32_t *w, uint32_t *h) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *cc;
        double fps;
        int r;

        r = camctl_get_property(c, camera, CAMERAD_IFACE_CAMERA, "Formats", "a(suud)", &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(suud)");
        if (r >= 0)
                r = sd_bus_message_read(reply, "(suud)", &cc, w, h, &fps);
        if (r < 0)
                return camctl_bus_error(NULL, r, "Formats");
        if (r == 0)
                return camctl_error(CAMCTL_EXIT_FAILED, "the camera lists no format");
        snprintf(fourcc, 5, "%s", cc);
        return 0;
}

static int set_in_session(struct camctl *c, const char *session, const char *camera, const cJSON *all,
                          int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        char fourcc[5];
        uint32_t w, h;
        const char *out;
        int r;

        r = first_profile(c, camera, fourcc, &w, &h);
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_SESSION, "BeginConfig", NULL, "");
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_SESSION, "AddInput", NULL, "o", camera);
        if (r == 0)
                r = camctl_call(c, session, CAMERAD_IFACE_SESSION, "CreateOutput", &reply, "sa{sv}", "photo", 3,
                                "format", "s", fourcc, "width", "u", w, "height", "u", h);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "o", &out);
        if (r < 0)
                return camctl_bus_error(NULL, r, "CreateOutput");
        r = camctl_call(c, session, CAMERAD_IFACE_SESSION, "AddOutput", NULL, "o", out);
        if (r != 0)
                return r;
        r = sd_bus_call_method(c->bus, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_SESSION, "CommitConfig", &e, NULL, "");
        if (r < 0 && sd_bus_error_has_name(&e, "org.camerad.Camera1.Error.Conflict"))
                return camctl_error(CAMCTL_EXIT_FAILED,
                                    "the camera is in use by another session, whose owner sets its controls "
                                    "(Session.SetControls): %s", e.message ?: "");
        if (r < 0)
                return camctl_bus_error(&e, r, "CommitConfig");

        r = sd_bus_message_new_method_call(c->bus, &m, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_SESSION,
                                           "SetControls");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return camctl_bus_error(NULL, r, "SetControls");
        for (int i = 0; i < argc; i++) {
                r = append_setting(m, all, argv[i]);
                if (r != 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return camctl_bus_error(NULL, r, "SetControls");
        sd_bus_error_free(&e);
        r = sd_bus_call(c->bus, m, 0, &e, NULL);
        if (r < 0)
                return camctl_bus_error(&e, r, "SetControls");
        return 0;
}

int verb_set(struct camctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *all = NULL, *now = NULL;
        _cleanup_free_ char *camera = NULL, *session = NULL;
        const char *path;
        int r;

        for (int i = 1; i < argc; i++)
                if (!strchr(argv[i], '=') || argv[i][0] == '=')
                        return camctl_error(CAMCTL_EXIT_USAGE, "'%s' is not NAME=VALUE (see 'camctl controls')", argv[i]);
        r = capture_resolve_camera(c, argv[0], &camera);
        if (r == 0)
                r = get_controls(c, camera, &all);
        if (r == 0)
                r = camctl_call(c, CAMERAD_ROOT_PATH, CAMERAD_IFACE_MANAGER, "CreateSession", &reply, "s", "photo");
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return camctl_bus_error(NULL, r, "CreateSession");
        session = strdup(path);
        if (!session)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");

        r = set_in_session(c, session, camera, all, argc - 1, argv + 1);
        (void) sd_bus_call_method(c->bus, CAMERAD_BUS_NAME, session, CAMERAD_IFACE_SESSION, "Release", NULL, NULL, "");
        if (r != 0)
                return r;

        /* What the camera has now, for the ones set. */
        r = get_controls(c, camera, &now);
        if (r != 0)
                return r;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        if (!doc)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *name = strndup(argv[i], strcspn(argv[i], "="));
                const cJSON *o = cJSON_GetObjectItemCaseSensitive(now, name);
                if (!name || !o)
                        continue;
                double v = number(o, "value");
                const char *item = menu_item(o, v);
                cJSON_AddNumberToObject(doc, name, v);
                if (c->args->json)
                        continue;
                if (item)
                        printf("%s=%.0f (%s)\n", name, v, item);
                else
                        printf("%s=%.0f\n", name, v);
        }
        return c->args->json ? output_json(doc) : 0;
}
