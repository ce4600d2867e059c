/*
 * store.h - the responses each endpoint of mock-upstream created (the
 * Responses API's server-side state), so that GET/DELETE /v1/responses/{id}
 * and previous_response_id work on the endpoint that made an id and on no
 * other. One process-wide table under its own mutex; each endpoint keeps at
 * most MOCK_STORE_MAX responses and MOCK_STORE_BYTES bytes, the oldest
 * forgotten first. Nothing survives a restart, as nothing survives an
 * upstream losing its data.
 */
#ifndef MOCK_STORE_H
#define MOCK_STORE_H

#include <stddef.h>

#include "buf.h"

#define MOCK_STORE_MAX 1024
#define MOCK_STORE_BYTES (16u * 1024 * 1024)

/* What of a stored response to append. */
typedef enum mock_store_part { MOCK_STORE_OBJECT, MOCK_STORE_INPUT_ITEMS } mock_store_part;

/* Remember response id of endpoint ep: its object and its input items (a
 * JSON array). An input too big for the budget is kept as an empty list. */
void mock_store_put(const char *ep, size_t ep_len, const char *id, const mock_buf *object,
                    const mock_buf *input_items);
/* 1 and appends the part to out when ep holds id, else 0. out may be NULL. */
int mock_store_get(const char *ep, size_t ep_len, const char *id, size_t id_len,
                   mock_store_part part, mock_buf *out);
/* 1 when ep held id (now forgotten), else 0. */
int mock_store_delete(const char *ep, size_t ep_len, const char *id, size_t id_len);
/* How many responses ep holds. */
size_t mock_store_count(const char *ep, size_t ep_len);
void mock_store_free(void);

#endif
