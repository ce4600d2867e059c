/*
 * fake_host.h - a host services table for plugin tests: counts allocations
 * (so a test can assert that everything a plugin handed back was freed),
 * keeps the last log line, and draws "random" numbers from a seeded
 * splitmix64, so plugin behaviour is repeatable.
 */
#ifndef SY_TEST_FAKE_HOST_H
#define SY_TEST_FAKE_HOST_H

#include <stdint.h>
#include <switchyard/plugin.h>

const sy_host_api *fake_host(void);
/* The table of a host built for ABI 1.0 (no json_scan_object), same services. */
const sy_host_api *fake_host_v10(void);
void fake_host_seed(uint64_t seed);
/* Allocations not yet freed. */
long fake_host_live(void);
/* The last line logged by a plugin ("" when none). */
const char *fake_host_last_log(void);

/* A config value array aligned with keys: every default applied, then the
 * overrides (NULL-terminated name, value, name, value, ...). Values are
 * parsed with the host's own parser. Free with free(). Aborts the test on a
 * bad override. */
sy_config_value *fake_config(const sy_config_key *keys, const char *const *overrides);

#endif
