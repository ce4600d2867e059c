/*
 * fuzz_json.c - differential harness for the request-body scanner.
 *
 * - Whatever sy_json_scan_object accepts, cJSON accepts too.
 * - sy_json_scan_request (the strict scan the router uses) refuses as invalid
 *   exactly what the lenient scan refuses, and otherwise fills in the same
 *   fields, or refuses the body as ambiguous about one wanted key.
 * - When the strict scan accepts a body, cJSON sees each wanted key as often
 *   as the scanner did (at most once), with the same type and string.
 *   cJSON cuts keys and strings at an escaped NUL: to it "model\u0000x" is the
 *   key "model". The scanner reads the key whole, so the two disagree on such
 *   bodies; that is why the strict scan refuses them (an upstream written in C
 *   would read them as cJSON does), and this harness compares only bodies the
 *   strict scan accepted. (fuzz/corpus/json/nul-in-key.json is the case.)
 * - Unescaping a string it accepted never overflows.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"

#define NF 3
static const char *const wanted[NF] = {"model", "stream", "user"};

static int same_type(sy_json_type t, const cJSON *j)
{
    switch (t) {
    case SY_JSON_ABSENT: return j == NULL;
    case SY_JSON_STRING: return cJSON_IsString(j);
    case SY_JSON_NUMBER: return cJSON_IsNumber(j);
    case SY_JSON_TRUE: return cJSON_IsTrue(j);
    case SY_JSON_FALSE: return cJSON_IsFalse(j);
    case SY_JSON_NULL: return cJSON_IsNull(j);
    case SY_JSON_OBJECT: return cJSON_IsObject(j);
    case SY_JSON_ARRAY: return cJSON_IsArray(j);
    }
    return 0;
}

/* The wanted field as cJSON sees it; aborts when it sees the key twice. */
static const cJSON *cjson_field(const cJSON *root, const char *name)
{
    const cJSON *hit = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!c->string || strcmp(c->string, name) != 0) continue;
        if (hit) abort();
        hit = c;
    }
    return hit;
}

static void check_string(const sy_json_field *f, const cJSON *j)
{
    if (!f->escaped) {
        if (strlen(j->valuestring) != f->len || memcmp(j->valuestring, f->val, f->len) != 0)
            abort();
        return;
    }
    /* Decoded, a string is never longer than its escaped form. */
    char *buf = malloc(f->len + 6);
    if (!buf) return;
    long n = sy_json_unescape(f->val, f->len, buf, f->len + 6);
    if (n > (long)f->len) abort();
    /* It refuses a string holding \u0000, which cJSON cuts short. */
    if (n >= 0 && strcmp(buf, j->valuestring) != 0) abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    sy_json_field lenient[NF], strict[NF];
    for (int i = 0; i < NF; i++) lenient[i] = strict[i] = (sy_json_field){.name = wanted[i]};
    const char *why_l = NULL, *why_s = NULL;
    size_t which = 0;
    int rl = sy_json_scan_object(body, size, lenient, NF, &why_l);
    int rs = sy_json_scan_request(body, size, strict, NF, &why_s, &which);
    if (rl != 0) {
        if (!why_l || rs != -1 || why_s != why_l || which != NF) abort();
        return 0;
    }
    if (rs == -1 || (rs == 0) != (why_s == NULL) || (rs == -2 && which >= NF)) abort();

    cJSON *j = cJSON_ParseWithLength(body, size);
    if (!j || !cJSON_IsObject(j)) abort();
    if (rs == -2) {
        /* Ambiguous: cJSON sees the key at least once (twice, or cut at a NUL). */
        int seen = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            seen += c->string && !strcmp(c->string, wanted[which]);
        if (!seen) abort();
        cJSON_Delete(j);
        return 0;
    }
    for (int i = 0; i < NF; i++) {
        const sy_json_field *f = &strict[i];
        if (f->type != lenient[i].type || f->val != lenient[i].val || f->len != lenient[i].len ||
            f->escaped != lenient[i].escaped)
            abort();
        const cJSON *c = cjson_field(j, wanted[i]);
        if (!same_type(f->type, c)) abort();
        if (f->type == SY_JSON_STRING) check_string(f, c);
    }
    cJSON_Delete(j);
    return 0;
}
