/* window.c - one arm's sliding window in sub-buckets (see window.h). */
#include "window.h"

#include <string.h>

static void slot_reset(sy_window_slot *s, int64_t idx)
{
    s->idx = idx;
    s->attempts = s->failures = 0;
    sy_hist_clear(&s->latency);
}

void sy_window_init(sy_window *w, uint64_t window_ns)
{
    w->width_ns = window_ns / SY_WINDOW_SLOTS;
    if (w->width_ns == 0) w->width_ns = 1;
    for (int i = 0; i < SY_WINDOW_RING; i++) slot_reset(&w->slot[i], -1);
}

void sy_window_add(sy_window *w, uint64_t t, int failed, uint64_t latency_ns)
{
    int64_t idx = (int64_t)(t / w->width_ns);
    sy_window_slot *s = &w->slot[idx % SY_WINDOW_RING];
    if (s->idx != idx) {
        if (s->idx > idx) return; /* older than anything the window still holds */
        slot_reset(s, idx);
    }
    s->attempts++;
    if (failed) s->failures++;
    else sy_hist_add(&s->latency, latency_ns);
}

void sy_window_sum_clear(sy_window_sum *s)
{
    s->attempts = s->failures = 0;
    sy_hist_clear(&s->latency);
}

void sy_window_collect(const sy_window *w, uint64_t now, uint64_t since, sy_window_sum *out)
{
    int64_t cur = (int64_t)(now / w->width_ns);
    for (int i = 0; i < SY_WINDOW_RING; i++) {
        const sy_window_slot *s = &w->slot[i];
        if (s->idx < 0 || s->idx > cur || s->idx < cur - SY_WINDOW_SLOTS) continue;
        if ((uint64_t)s->idx * w->width_ns < since) continue;
        out->attempts += s->attempts;
        out->failures += s->failures;
        sy_hist_merge(&out->latency, &s->latency);
    }
}

double sy_window_success_rate(const sy_window_sum *s)
{
    return s->attempts ? (double)(s->attempts - s->failures) / (double)s->attempts : 1.0;
}

double sy_window_p95_ns(const sy_window_sum *s)
{
    return sy_hist_quantile(&s->latency, 0.95);
}
