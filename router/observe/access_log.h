/*
 * access_log.h - the JSON access log (written by helper "metrics").
 *
 * One JSON object per line, per finished client request (sy_request_event):
 *   {"ts":"2026-01-02T03:04:05.678Z","request_id":"...","method":"POST",
 *    "path":"/v1/chat/completions","arm":"canary","provider":"holysheep",
 *    "endpoint":"cn-north","model":"gpt-4.1","model_served":"gpt-4.1",
 *    "status":200,"attempts":1,"stream":false,"latency_ms":812.345,
 *    "ttfb_ms":301.002,"upstream_ms":800.1,"input_tokens":120,"output_tokens":7,
 *    "cost_usd":0.000296,"client_aborted":false,"stream_cut":false,"error":null}
 * ts is the wall clock (UTC, ms) when the line is written; latency_ms is
 * end - start; ttfb_ms is null when nothing was sent; token counts are null
 * when unknown (-1); cost_usd (to the nano-dollar, priced by the provider and
 * model that answered) is null when unknown (no usage or no price); error is
 * the upstream error summary or null. Strings
 * are always strings ("" for NULL).
 *
 * What never goes in: prompt or answer text, headers, the query string of the
 * path (it is cut at '?', since some clients put keys there). Each string is
 * escaped by hand (quote, backslash, control characters; invalid UTF-8 becomes
 * U+FFFD) and cut at a fixed length, so a line stays well under 64 KiB.
 *
 * Threads: sy_access_log_write may be called from any number of threads at
 * once. Each thread appends to its own buffer (a single-producer ring) with no
 * lock; the buffer goes out in one write() when it holds 32 KiB or when
 * sy_access_log_flush runs. Flushing takes the log's mutex and may be called
 * from any thread (the server calls it from a ~100 ms timer and at shutdown);
 * a line is never split between two write() calls, so lines never interleave.
 * A thread that exits flushes and frees its buffer.
 *
 * Ownership: the caller owns the sy_access_log. sy_access_log_close flushes
 * and frees it; call it only after every writer thread has stopped writing
 * (joined, or will never write again). NULL is accepted everywhere as "off".
 */
#ifndef SY_ACCESS_LOG_H
#define SY_ACCESS_LOG_H

#include <stddef.h>

#include "events.h"

typedef struct sy_access_log sy_access_log;

/* target: "stdout", "stderr", "off", or a file path (opened
 * O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640). NULL with a message in err
 * on failure. */
sy_access_log *sy_access_log_open(const char *target, char *err, size_t errlen);

/* Append one line for ev. A no-op for "off" or a NULL log. */
void sy_access_log_write(sy_access_log *log, const sy_request_event *ev);

/* Write out every thread's buffered lines. Any thread. */
void sy_access_log_flush(sy_access_log *log);

/* Log rotation (call on SIGHUP, from the event loop, not a signal handler):
 * flush, then reopen the same path. For stdout/stderr/off it only flushes.
 * 0 on success; -1 with a message in err, and the old file stays in use. */
int sy_access_log_reopen(sy_access_log *log, char *err, size_t errlen);

/* Reload with another server.access_log: switch to target ("stdout",
 * "stderr", "off" or a path) without a restart. Lines logged before go to the
 * old target; the old file is closed. Main thread only (like reopen). 0 on
 * success; -1 with a message in err, and the old target stays in use. */
int sy_access_log_retarget(sy_access_log *log, const char *target, char *err, size_t errlen);

/* Lines lost so far (a failed write, or out of memory for a thread's buffer). */
unsigned long long sy_access_log_dropped(const sy_access_log *log);

/* Flush, close the file (not stdout/stderr) and free. */
void sy_access_log_close(sy_access_log *log);

#endif
