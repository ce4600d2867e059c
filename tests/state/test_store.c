/* Unit tests for the file and memory stores. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

static char dir[] = "/tmp/sy-store-XXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }
static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
}

static char *path_in(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

Test(store, survives_a_reopen_only_after_flush, .init = setup, .fini = teardown)
{
    char err[256], *v = NULL, path[256], tmp[256];
    snprintf(path, sizeof path, "%s", path_in("state.json"));
    snprintf(tmp, sizeof tmp, "%s", path_in("state.json.tmp"));
    sy_store *s = sy_store_file_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_expect_eq(sy_store_get(s, "rollout", &v), 1, "a new file is an empty store");
    cr_assert_eq(sy_store_put(s, "rollout", "{\"percent\":0,\"state\":\"rolled_back\"}"), 0);
    cr_expect_eq(access(path, F_OK), -1, "put alone writes nothing");
    cr_assert_eq(sy_store_flush(s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(access(tmp, F_OK), -1, "no temporary file left");
    sy_store_free(s);

    s = sy_store_file_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(sy_store_get(s, "rollout", &v), 0);
    cr_expect_str_eq(v, "{\"percent\":0,\"state\":\"rolled_back\"}");
    free(v);
    /* Another key beside it, and a replacement. */
    cr_assert_eq(sy_store_put(s, "budget", "{\"month\":\"2026-11\",\"spent_usd\":1.5}"), 0);
    cr_assert_eq(sy_store_put(s, "rollout", "{\"percent\":10}"), 0);
    cr_assert_eq(sy_store_flush(s, err, sizeof err), 0, "%s", err);
    sy_store_free(s);
    s = sy_store_file_open(path, err, sizeof err);
    cr_assert_eq(sy_store_get(s, "rollout", &v), 0);
    cr_expect_str_eq(v, "{\"percent\":10}");
    free(v);
    cr_assert_eq(sy_store_get(s, "budget", &v), 0);
    cr_expect(strstr(v, "1.5"));
    free(v);
    sy_store_free(s);
}

Test(store, a_corrupt_file_is_an_error_not_an_empty_store, .init = setup, .fini = teardown)
{
    const char *path = path_in("bad.json");
    FILE *f = fopen(path, "w");
    fputs("{\"rollout\": {\"percent\": 0", f);
    fclose(f);
    char err[256];
    sy_store *s = sy_store_file_open(path, err, sizeof err);
    cr_expect_null(s);
    cr_expect(strstr(err, "not a JSON object"), "%s", err);
    f = fopen(path, "w");
    fputs("[1,2]", f);
    fclose(f);
    cr_expect_null(sy_store_file_open(path, err, sizeof err));
}

Test(store, bad_values_are_refused_and_memory_store_works)
{
    sy_store *s = sy_store_memory_new();
    char err[64], *v;
    cr_expect_eq(sy_store_put(s, "k", "{not json"), -1);
    cr_expect_eq(sy_store_put(s, "k", "[1]"), 0);
    cr_expect_eq(sy_store_flush(s, err, sizeof err), 0);
    cr_assert_eq(sy_store_get(s, "k", &v), 0);
    cr_expect_str_eq(v, "[1]");
    free(v);
    sy_store_free(s);
}

Test(store, unwritable_folder_reports_and_stays_dirty, .init = setup, .fini = teardown)
{
    char err[256], path[256];
    snprintf(path, sizeof path, "%s", path_in("sub/state.json")); /* the folder does not exist */
    sy_store *s = sy_store_file_open(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(sy_store_put(s, "k", "1"), 0);
    cr_expect_eq(sy_store_flush(s, err, sizeof err), -1);
    cr_expect(strstr(err, "cannot write"), "%s", err);
    mkdir(path_in("sub"), 0755);
    cr_expect_eq(sy_store_flush(s, err, sizeof err), 0, "the next flush writes it: %s", err);
    cr_expect_eq(access(path, F_OK), 0);
    sy_store_free(s);
}
