/*
 * fleet_window.h - the rollout's windows as instances exchange them.
 *
 * Each instance publishes its own windows (both arms, slot by slot: counts
 * and the latency histogram's buckets) every tick; each reads the others'
 * and adds them to its own, so the controller decides on the whole fleet's
 * traffic. Slots are indexed on the rollout's wall-aligned clock
 * (rollout_live.h, sy_rollout_set_fleet), so slot k is the same span of time
 * on every instance (to the clocks' skew, a small part of a slot).
 *
 * Text, one line per non-empty slot, so a blob is small and can be read in a
 * debugger:
 *   sy1 WIDTH_NS
 *   ARM IDX ATTEMPTS FAILURES BUCKET:COUNT,BUCKET:COUNT,...
 * Pure: no I/O; decode checks everything (a blob comes from the network).
 */
#ifndef SY_FLEET_WINDOW_H
#define SY_FLEET_WINDOW_H

#include <stddef.h>

#include "window.h"

/* Both arms' windows (same width) as a malloc'd NUL-terminated text, or NULL
 * when out of memory. */
char *sy_fleet_window_encode(const sy_window w[2]);

/* Fill w[0..1] from text[0..len): 0, or -1 when it is not a blob
 * sy_fleet_window_encode wrote (then w is left empty). */
int sy_fleet_window_decode(const char *text, size_t len, sy_window w[2]);

#endif
