/* The Responses API's id -> home map: bounds, expiry, replicas, listener. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "response_map.h"

static sy_response_home home(const char *p, const char *e, const char *m)
{
    sy_response_home h;
    memset(&h, 0, sizeof h);
    snprintf(h.provider, sizeof h.provider, "%s", p);
    snprintf(h.endpoint, sizeof h.endpoint, "%s", e);
    snprintf(h.model, sizeof h.model, "%s", m);
    return h;
}

static int get(sy_response_map *m, const char *id, int64_t now, sy_response_home *out)
{
    return sy_response_map_get(m, id, strlen(id), now, out);
}

Test(response_map, remembers_where_an_id_lives)
{
    sy_response_map *m = sy_response_map_new(10, 1000);
    sy_response_home h = home("relay", "cn-north", "gpt-4.1"), out;
    cr_assert_eq(sy_response_map_put(m, "resp_1", 6, &h, 100), 0);
    cr_assert_eq(get(m, "resp_1", 200, &out), 0);
    cr_assert_str_eq(out.provider, "relay");
    cr_assert_str_eq(out.endpoint, "cn-north");
    cr_assert_str_eq(out.model, "gpt-4.1");
    cr_assert_eq(get(m, "resp_2", 200, &out), 1);
    /* a later put of the same id replaces the home */
    h = home("official", "global", "gpt-4o");
    cr_assert_eq(sy_response_map_put(m, "resp_1", 6, &h, 300), 0);
    cr_assert_eq(get(m, "resp_1", 301, &out), 0);
    cr_assert_str_eq(out.provider, "official");
    cr_assert_eq(sy_response_map_count(m), 1);
    sy_response_map_free(m);
}

Test(response_map, forgets_after_the_ttl)
{
    sy_response_map *m = sy_response_map_new(10, 1000);
    sy_response_home h = home("p", "e", "m");
    sy_response_map_put(m, "resp_a", 6, &h, 0);
    cr_assert_eq(get(m, "resp_a", 999, NULL), 0);
    cr_assert_eq(get(m, "resp_a", 1000, NULL), 1);
    cr_assert_eq(sy_response_map_count(m), 0, "an expired id is dropped when looked up");
    sy_response_map_free(m);
}

Test(response_map, the_oldest_go_first_beyond_the_bound)
{
    sy_response_map *m = sy_response_map_new(3, 1000000);
    sy_response_home h = home("p", "e", "m");
    char id[32];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "resp_%d", i);
        cr_assert_eq(sy_response_map_put(m, id, strlen(id), &h, i), 0);
    }
    cr_assert_eq(sy_response_map_count(m), 3);
    cr_assert_eq(get(m, "resp_0", 10, NULL), 1);
    cr_assert_eq(get(m, "resp_1", 10, NULL), 1);
    cr_assert_eq(get(m, "resp_2", 10, NULL), 0);
    cr_assert_eq(get(m, "resp_4", 10, NULL), 0);
    sy_response_map_free(m);
}

Test(response_map, a_big_map_stays_near_its_bound)
{
    sy_response_map *m = sy_response_map_new(2000, 1000000);
    sy_response_home h = home("p", "e", "m");
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "resp_%d", i);
        cr_assert_eq(sy_response_map_put(m, id, strlen(id), &h, i), 0);
    }
    size_t n = sy_response_map_count(m);
    cr_assert(n <= 2000 + 16 && n >= 1500, "count %zu", n);
    cr_assert_eq(get(m, "resp_19999", 20000, NULL), 0);
    cr_assert_eq(get(m, "resp_0", 20000, NULL), 1);
    /* a smaller bound on reload: new ids push the oldest out */
    sy_response_map_configure(m, 100, 1000000);
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "new_%d", i);
        sy_response_map_put(m, id, strlen(id), &h, 30000 + i);
    }
    n = sy_response_map_count(m);
    cr_assert(n <= 112, "count %zu after shrinking", n);
    sy_response_map_free(m);
}

Test(response_map, refuses_invalid_ids)
{
    sy_response_map *m = sy_response_map_new(10, 1000);
    sy_response_home h = home("p", "e", "m");
    cr_assert_eq(sy_response_map_put(m, "", 0, &h, 0), -1);
    cr_assert_eq(sy_response_map_put(m, "a/b", 3, &h, 0), -1);
    cr_assert_eq(sy_response_map_put(m, "a\"b", 3, &h, 0), -1);
    char longid[SY_RESPONSE_ID_MAX + 2];
    memset(longid, 'a', sizeof longid);
    cr_assert_eq(sy_response_map_put(m, longid, SY_RESPONSE_ID_MAX + 1, &h, 0), -1);
    cr_assert_eq(sy_response_map_put(m, longid, SY_RESPONSE_ID_MAX, &h, 0), 0);
    cr_assert_eq(get(m, "a/b", 0, NULL), 1);
    sy_response_map_free(m);
}

typedef struct heard {
    int puts;
    char last[SY_RESPONSE_ID_MAX + 1];
    int64_t expires;
} heard;

static void listen_fn(void *ctx, const char *id, const sy_response_home *h, int64_t expires_ms)
{
    heard *x = ctx;
    x->puts++;
    cr_assert_not_null(h);
    snprintf(x->last, sizeof x->last, "%s", id);
    x->expires = expires_ms;
}

Test(response_map, the_listener_hears_local_puts_but_not_replicas)
{
    sy_response_map *m = sy_response_map_new(10, 500);
    heard x = {0};
    sy_response_map_set_listener(m, listen_fn, &x);
    sy_response_home h = home("p", "e", "m");
    sy_response_map_put(m, "resp_local", 10, &h, 1000);
    cr_assert_eq(x.puts, 1);
    cr_assert_str_eq(x.last, "resp_local");
    cr_assert_eq(x.expires, 1500);
    cr_assert_eq(sy_response_map_put_replica(m, "resp_remote", 11, &h, 1800), 0);
    cr_assert_eq(x.puts, 1, "a replica's change is not echoed");
    cr_assert_eq(get(m, "resp_remote", 1799, NULL), 0);
    cr_assert_eq(get(m, "resp_remote", 1800, NULL), 1, "a replica keeps its own expiry");
    sy_response_map_free(m);
}

static sy_response_map *shared_map;
static void *writer(void *arg)
{
    long t = (long)arg;
    sy_response_home h = home("p", "e", "m");
    char id[48];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "resp_%ld_%d", t, i);
        sy_response_map_put(shared_map, id, strlen(id), &h, i);
        sy_response_map_get(shared_map, id, strlen(id), i, NULL);
    }
    return NULL;
}

Test(response_map, many_threads_at_once)
{
    shared_map = sy_response_map_new(4096, 1000000);
    pthread_t th[4];
    for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, writer, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    size_t n = sy_response_map_count(shared_map);
    cr_assert(n > 0 && n <= 4096 + 16, "count %zu", n);
    sy_response_map_free(shared_map);
}
