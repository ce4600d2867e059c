/* fake_host.c - see fake_host.h. */
#include "fake_host.h"

#include <stddef.h>

#include "json_scan.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

static long live;
static uint64_t rng_state = 1;
static char last_log[1024];

static void fh_log(int level, const char *plugin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fh_log(int level, const char *plugin, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(last_log, sizeof last_log, "%d [plugin %s] %s", level, plugin, msg);
}

static void *fh_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p) live++;
    return p;
}

static void fh_free(void *p)
{
    if (!p) return;
    live--;
    free(p);
}

static uint64_t fh_random(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const sy_host_api fake = {
    .size = sizeof(sy_host_api),
    .abi_minor = SY_PLUGIN_ABI_MINOR,
    .log = fh_log,
    .alloc = fh_alloc,
    .free = fh_free,
    .random_u64 = fh_random,
    .json_scan_object = sy_json_scan_object, /* the host's real scanner (ABI 1.1) */
};

/* The same table as a host built for ABI 1.0 would hand out: no JSON scanner. */
static const sy_host_api fake_v10 = {
    .size = offsetof(sy_host_api, json_scan_object),
    .abi_minor = 0,
    .log = fh_log,
    .alloc = fh_alloc,
    .free = fh_free,
    .random_u64 = fh_random,
};

const sy_host_api *fake_host(void) { return &fake; }
const sy_host_api *fake_host_v10(void) { return &fake_v10; }
void fake_host_seed(uint64_t seed) { rng_state = seed; }
long fake_host_live(void) { return live; }
const char *fake_host_last_log(void) { return last_log; }

sy_config_value *fake_config(const sy_config_key *keys, const char *const *overrides)
{
    size_t n = 0;
    while (keys && keys[n].name) n++;
    sy_config_value *v = calloc(n + 1, sizeof *v);
    cr_assert_not_null(v);
    const char *why = NULL;
    for (size_t i = 0; i < n; i++)
        if (keys[i].default_value)
            cr_assert_eq(sy_config_value_parse(keys[i].type, keys[i].default_value, &v[i], &why),
                         0, "default of %s: %s", keys[i].name, why);
    for (size_t j = 0; overrides && overrides[j]; j += 2) {
        size_t i = 0;
        while (i < n && strcmp(keys[i].name, overrides[j])) i++;
        cr_assert_lt(i, n, "no key %s", overrides[j]);
        cr_assert_eq(sy_config_value_parse(keys[i].type, overrides[j + 1], &v[i], &why), 0,
                     "%s=%s: %s", overrides[j], overrides[j + 1], why);
    }
    return v;
}
