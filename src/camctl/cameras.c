/* SPDX-License-Identifier: MIT */
/* camctl list, camctl info CAMERA */

#include "camctl/capture.h"
#include "camctl/client.h"
#include "camctl/output.h"

/* The camera's plain properties (Id, Name, Driver, DevicePath, Connected, InUse) plus
 * "path" and "index" as one JSON object. */
static int camera_properties(struct camctl *c, const char *path, cJSON **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        const char *slash = strrchr(path, '/');
        int r;

        r = camctl_call(c, path, "org.freedesktop.DBus.Properties", "GetAll", &reply, "s", CAMERAD_IFACE_CAMERA);
        if (r != 0)
                return r;
        r = camctl_read_dict(reply, &o);
        if (r != 0)
                return r;
        cJSON_AddStringToObject(o, "path", path);
        if (slash)
                cJSON_AddNumberToObject(o, "index", strtoul(slash + 1, NULL, 10));
        *ret = TAKE_PTR(o);
        return 0;
}

static const char *json_string(const cJSON *o, const char *key) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
        return s ?: "";
}

static const char *json_yes_no(const cJSON *o, const char *key) {
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)) ? "yes" : "no";
}

int verb_list(struct camctl *c, int argc, char **argv) {
        static const char *const headers[] = { "INDEX", "ID", "NAME", "DRIVER", "IN-USE", "CONNECTED" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *list = cJSON_CreateArray();
        _cleanup_(table_freep) struct table *t = table_new(ELEMENTSOF(headers), headers);
        const char *path;
        int r;

        if (!list || !t)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = camctl_get_property(c, CAMERAD_ROOT_PATH, CAMERAD_IFACE_MANAGER, "Cameras", "ao", &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "o");
        while (r >= 0 && (r = sd_bus_message_read(reply, "o", &path)) > 0) {
                cJSON *cam;

                r = camera_properties(c, path, &cam);
                if (r != 0)
                        return r;
                cJSON_AddItemToArray(list, cam);
                table_add(t, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cam, "index")));
                table_add(t, "%s", json_string(cam, "Id"));
                table_add(t, "%s", json_string(cam, "Name"));
                table_add(t, "%s", json_string(cam, "Driver"));
                table_add(t, "%s", json_yes_no(cam, "InUse"));
                table_add(t, "%s", json_yes_no(cam, "Connected"));
        }
        if (r < 0)
                return camctl_bus_error(NULL, r, "Cameras");

        if (c->args->json)
                return output_json(list);
        if (cJSON_GetArraySize(list) == 0)
                printf("No cameras.\n");
        else
                table_print(t, stdout);
        return 0;
}

int verb_info(struct camctl *c, int argc, char **argv) {
        static const char *const headers[] = { "FORMAT", "WIDTH", "HEIGHT", "MAX-FPS" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(cJSON_Deletep) cJSON *cam = NULL;
        _cleanup_(table_freep) struct table *t = table_new(ELEMENTSOF(headers), headers);
        _cleanup_free_ char *path = NULL;
        cJSON *formats;
        const char *fourcc;
        uint32_t width, height;
        double fps;
        int r;

        if (!t)
                return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
        r = capture_resolve_camera(c, argv[0], &path);
        if (r != 0)
                return r;
        r = camera_properties(c, path, &cam);
        if (r != 0)
                return r;
        formats = cJSON_AddArrayToObject(cam, "Formats");

        r = camctl_get_property(c, path, CAMERAD_IFACE_CAMERA, "Formats", "a(suud)", &reply);
        if (r != 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(suud)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(suud)", &fourcc, &width, &height, &fps)) > 0) {
                cJSON *f = cJSON_CreateObject();

                if (!f)
                        return camctl_error(CAMCTL_EXIT_FAILED, "out of memory");
                cJSON_AddStringToObject(f, "format", fourcc);
                cJSON_AddNumberToObject(f, "width", width);
                cJSON_AddNumberToObject(f, "height", height);
                cJSON_AddNumberToObject(f, "fps", fps);
                cJSON_AddItemToArray(formats, f);
                table_add(t, "%s", fourcc);
                table_add(t, "%u", width);
                table_add(t, "%u", height);
                table_add(t, "%g", fps);
        }
        if (r < 0)
                return camctl_bus_error(NULL, r, "Formats");

        if (c->args->json)
                return output_json(cam);
        printf("      Path: %s\n", path);
        printf("        Id: %s\n", json_string(cam, "Id"));
        printf("      Name: %s\n", json_string(cam, "Name"));
        printf("    Driver: %s\n", json_string(cam, "Driver"));
        printf("    Device: %s\n", json_string(cam, "DevicePath")[0] ? json_string(cam, "DevicePath") : "-");
        printf(" Connected: %s\n", json_yes_no(cam, "Connected"));
        printf("    In use: %s\n\n", json_yes_no(cam, "InUse"));
        table_print(t, stdout);
        return 0;
}
