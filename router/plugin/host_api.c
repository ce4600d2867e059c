/*
 * host_api.c - the services table the host hands to every plugin.
 *
 * One static table for the whole process: logging through the router's own
 * log (one line, "[plugin NAME] message"), allocation with malloc/free, and
 * randomness from the seeded per-thread generator (rng.h), so a fixed
 * SWITCHYARD_SEED makes the mock provider repeatable too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "loader.h"
#include "log.h"
#include "json_scan.h"
#include "rng.h"

_Static_assert((int)SY_LOG_ERROR == (int)SY_LOG_LVL_ERROR &&
                   (int)SY_LOG_WARN == (int)SY_LOG_LVL_WARN &&
                   (int)SY_LOG_INFO == (int)SY_LOG_LVL_INFO &&
                   (int)SY_LOG_DEBUG == (int)SY_LOG_LVL_DEBUG,
               "plugin.h and log.h log levels must agree");

static void host_log(int level, const char *plugin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(int level, const char *plugin, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    /* One event, one line: a plugin may quote upstream text with newlines in it. */
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
    if (level < SY_LOG_ERROR) level = SY_LOG_ERROR;
    if (level > SY_LOG_DEBUG) level = SY_LOG_DEBUG;
    /* The ABI's levels and log.h's have the same order and values. */
    sy_log(level, "[plugin %s] %s", plugin ? plugin : "?", msg);
}

static void *host_alloc(size_t n) { return malloc(n ? n : 1); }

static void host_free(void *p) { free(p); }

static uint64_t host_random_u64(void) { return sy_rng_u64(); }

static const sy_host_api host_api = {
    .size = (uint32_t)sizeof(sy_host_api),
    .abi_minor = SY_PLUGIN_ABI_MINOR,
    .log = host_log,
    .alloc = host_alloc,
    .free = host_free,
    .random_u64 = host_random_u64,
    .json_scan_object = sy_json_scan_object,
};

const sy_host_api *sy_host_api_get(void) { return &host_api; }
