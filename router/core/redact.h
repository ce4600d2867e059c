/*
 * redact.h - keep the policy's secrets out of what reaches a client or a log.
 *
 * An upstream's error body is passed to the client as it came, and some
 * upstreams echo the request's Authorization header in it ("Incorrect API key
 * provided: sk-..."); curl's messages name the upstream host, which may come
 * from ${VAR} inside a base_url. A redactor is built once per policy snapshot
 * (sy_redactor_for_policy) from every secret the policy holds and replaces
 * each occurrence in a body or message:
 *   - the value of every secret key (server.client_keys, server.admin_key, a
 *     plugin's SECRET keys such as providers.*.api_key) becomes "[redacted]";
 *   - a value that ${VAR} brought into an endpoint's base_url becomes the raw
 *     text "${VAR}", as explain and /admin/status show it.
 * Values shorter than SY_REDACT_MIN_LEN bytes are not scrubbed: replacing
 * them would mangle ordinary text. A redactor is immutable once built and is
 * shared by every worker thread; a NULL redactor scrubs nothing.
 */
#ifndef SY_REDACT_H
#define SY_REDACT_H

#include <stddef.h>

#define SY_REDACT_MIN_LEN 4
#define SY_REDACT_MARK "[redacted]"
#define SY_REDACT_TAIL_MIN 8

typedef struct sy_redactor sy_redactor;
struct sy_policy;

/* An empty redactor. Never NULL (aborts when out of memory, as the policy
 * loader does). */
sy_redactor *sy_redactor_new(void);
/* Hide value from now on, replaced by shown (copied; NULL = SY_REDACT_MARK).
 * Its JSON-escaped form ('/' as "\/", ...) is hidden too when it differs. */
void sy_redactor_add(sy_redactor *r, const char *value, const char *shown);
/* Free it, wiping the secrets it held. NULL is fine. */
void sy_redactor_free(sy_redactor *r);

/* Every secret of a loaded policy, as described above. */
sy_redactor *sy_redactor_for_policy(const struct sy_policy *p);

/* 1 when p[0..n) holds any secret. One memmem per secret: cheap enough for
 * error bodies and messages, not meant for every 2xx answer. */
int sy_redact_found(const sy_redactor *r, const char *p, size_t n);

/* Scrub a body: returns 0 when p[0..n) holds no secret (*out = NULL), 1 with
 * *out a malloc'd, NUL-terminated copy with every secret replaced (its length
 * in *out_len; the caller frees it), or -1 when out of memory (*out = NULL;
 * p holds a secret and must not be sent as it is). */
int sy_redact_copy(const sy_redactor *r, const char *p, size_t n, char **out, size_t *out_len);

/* Scrub a NUL-terminated message in place, without allocating; it is cut to
 * cap - 1 bytes (on a UTF-8 boundary) when the replacements make it longer.
 * A message may have been cut inside a secret on its way here: a tail of at
 * least SY_REDACT_TAIL_MIN bytes that begins a secret is replaced as well. */
void sy_redact_str(const sy_redactor *r, char *s, size_t cap);

#endif
