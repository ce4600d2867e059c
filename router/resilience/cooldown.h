/*
 * cooldown.h - "call me again later": the Retry-After an endpoint gave with
 * a 429 (or a 503), per model.
 *
 * Per model because providers rate-limit per model (OpenAI's limits are per
 * model and organisation): a 429 for gpt-4.1 on cn-north must not stop the
 * fallback to gpt-4o-mini on the same region. A cooldown is not a failure:
 * the breaker never hears of it. A longer cooldown extends a shorter one; a
 * shorter one never cuts a longer one.
 *
 * Pure and small: a handful of slots per endpoint (models cooling at once on
 * one endpoint are few); when every slot is in use, the one ending soonest is
 * reused. The caller passes "now" and serialises calls (the endpoint's mutex).
 */
#ifndef SY_COOLDOWN_H
#define SY_COOLDOWN_H

#include <stdint.h>

#define SY_COOLDOWN_SLOTS 8

typedef struct sy_cooldowns {
    struct {
        uint64_t model; /* hash of the model name; 0 = free */
        uint64_t until; /* ns */
    } slot[SY_COOLDOWN_SLOTS];
} sy_cooldowns;

/* model cools on this endpoint until until_ns. */
void sy_cooldown_set(sy_cooldowns *c, const char *model, uint64_t until_ns, uint64_t now_ns);
/* When model may be called again: a time after now_ns, or 0 when it may now. */
uint64_t sy_cooldown_until(const sy_cooldowns *c, const char *model, uint64_t now_ns);
/* The latest end of any cooldown still running (for /admin/status), or 0. */
uint64_t sy_cooldown_latest(const sy_cooldowns *c, uint64_t now_ns);

#endif
