/* SPDX-License-Identifier: MIT */
#include "process-test.h"
#include "process/process-config.h"

static void test_defaults(void) {
        struct process_config c;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        process_config_init(&c);
        check(c.concurrency[EXEC_MODE_HIGH_PERFORMANCE] == (unsigned) cpus);
        check(c.concurrency[EXEC_MODE_BALANCED] == (unsigned) (cpus / 2 > 1 ? cpus / 2 : 1));
        check(c.concurrency[EXEC_MODE_LOW_POWER] == 1);
        check(c.quota_bytes == 2ull * 1024 * 1024 * 1024);
        check(c.job_timeout_seconds == 60);
        check(c.default_mode == EXEC_MODE_BALANCED);
        check(c.max_retries == 3);
        check(c.low_power_sched_idle);
}

static void test_good(void) {
        const char *json = "{ \"concurrency\": { \"high-performance\": 8, \"low-power\": 2 },"
                           "  \"quota_bytes\": 1048576, \"job_timeout_seconds\": 5,"
                           "  \"default_mode\": \"low-power\", \"max_retries\": 0,"
                           "  \"low_power_sched_idle\": false }";
        struct process_config c, d;
        char *error = NULL;

        process_config_init(&d);
        check_ok(process_config_parse(json, strlen(json), &c, &error));
        check(!error);
        check(c.concurrency[EXEC_MODE_HIGH_PERFORMANCE] == 8);
        check(c.concurrency[EXEC_MODE_BALANCED] == d.concurrency[EXEC_MODE_BALANCED]); /* untouched */
        check(c.concurrency[EXEC_MODE_LOW_POWER] == 2);
        check(c.quota_bytes == 1048576);
        check(c.job_timeout_seconds == 5);
        check(c.default_mode == EXEC_MODE_LOW_POWER);
        check(c.max_retries == 0);
        check(!c.low_power_sched_idle);
}

static void expect_bad(const char *json, const char *key) {
        struct process_config c;
        char *error = NULL;
        int r = process_config_parse(json, strlen(json), &c, &error);

        if (r != -EINVAL || !error || !strstr(error, key)) {
                fprintf(stderr, "input %s: r=%d error=%s (wanted one naming %s)\n", json, r,
                        error ? error : "(null)", key);
                abort();
        }
        free(error);
}

static void test_bad(void) {
        expect_bad("{\"colour\": 1}", "colour");
        expect_bad("{\"quota_bytes\": \"big\"}", "quota_bytes");
        expect_bad("{\"quota_bytes\": -1}", "quota_bytes");
        expect_bad("{\"quota_bytes\": 1.5}", "quota_bytes");
        expect_bad("{\"job_timeout_seconds\": 0}", "job_timeout_seconds");
        expect_bad("{\"max_retries\": true}", "max_retries");
        expect_bad("{\"default_mode\": \"turbo\"}", "default_mode");
        expect_bad("{\"concurrency\": 4}", "concurrency");
        expect_bad("{\"concurrency\": {\"turbo\": 4}}", "concurrency.turbo");
        expect_bad("{\"concurrency\": {\"balanced\": 0}}", "concurrency.balanced");
        expect_bad("{\"concurrency\": {\"low-power\": \"1\"}}", "concurrency.low-power");
        expect_bad("[1, 2]", "object");
        expect_bad("{\"low_power_sched_idle\": 1}", "low_power_sched_idle");
        expect_bad("{\"quota_bytes\": ", "JSON");
}

static void test_files(void) {
        char *dir = test_make_state_dir(), *path, *missing, *error = NULL;
        struct process_config c;
        FILE *f;

        check(asprintf(&path, "%s/camerad.conf", dir) > 0);
        check(asprintf(&missing, "%s/nope.conf", dir) > 0);

        check_ok(process_config_load(missing, &c, &error));
        check(c.job_timeout_seconds == 60 && !error);

        f = fopen(path, "w");
        check(f);
        fputs("{\"job_timeout_seconds\": 7}\n", f);
        fclose(f);
        check_ok(process_config_load(path, &c, &error));
        check(c.job_timeout_seconds == 7);

        f = fopen(path, "w");
        check(f);
        fputs("{\"job_timeout_seconds\": 7, \"bogus\": null}\n", f);
        fclose(f);
        check(process_config_load(path, &c, &error) == -EINVAL);
        check(error && strstr(error, "bogus"));
        free(error);

        free(path);
        free(missing);
        test_rm_rf(dir);
        free(dir);
}

static void test_mode_names(void) {
        for (int m = 0; m < _EXEC_MODE_MAX; m++)
                check(exec_mode_from_string(exec_mode_to_string(m)) == m);
        check(exec_mode_from_string("fast") < 0);
        check(exec_mode_from_string(NULL) < 0);
        check(exec_mode_to_string(_EXEC_MODE_MAX) == NULL);
}

int main(void) {
        test_defaults();
        test_good();
        test_bad();
        test_files();
        test_mode_names();
        return 0;
}
