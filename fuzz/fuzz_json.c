/*
 * fuzz_json.c - differential harness for the request-body scanner: whatever
 * sy_json_scan_object accepts, cJSON must accept too, with the same top-level
 * "model" string; and unescaping a string it accepted must not overflow.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_json_field f[3] = {{.name = "model"}, {.name = "stream"}, {.name = "user"}};
    const char *why = NULL;
    int ours = sy_json_scan_object((const char *)data, size, f, 3, &why);
    if (ours != 0) {
        if (!why) abort();
        return 0;
    }
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (!j || !cJSON_IsObject(j)) abort();
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (cJSON_IsString(m) && !f[0].escaped &&
        (f[0].type != SY_JSON_STRING || strlen(m->valuestring) != f[0].len ||
         memcmp(m->valuestring, f[0].val, f[0].len) != 0))
        abort();
    for (int i = 0; i < 3; i++) {
        if (f[i].type != SY_JSON_STRING) continue;
        char buf[64];
        long n = sy_json_unescape(f[i].val, f[i].len, buf, sizeof buf);
        if (n >= (long)sizeof buf) abort();
    }
    cJSON_Delete(j);
    return 0;
}
