/*
 * observers.h - what `serve` attaches to the router context: every finished
 * attempt and request goes to the metrics registry and the access log; every
 * breaker or health change to the metrics gauges.
 */
#ifndef SY_OBSERVERS_H
#define SY_OBSERVERS_H

#include "router.h"

struct sy_access_log;

/* log may be NULL (access log off). Returns 0, or -1 when the router has no
 * room for more observers. */
int sy_observers_install(sy_router *r, struct sy_access_log *log);

#endif
