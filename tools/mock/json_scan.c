/* json_scan.c - validating JSON scan (see json_scan.h). */
#include "json_scan.h"

#include <string.h>

typedef struct scanner {
    const char *p, *end;
    mock_json_info *info;
    /* Like cJSON's lookups, the first occurrence of a repeated key is the one used. */
    int seen_model, seen_stream, seen_options, seen_usage, seen_input;
} scanner;

/* Which top-level field a value belongs to, so the scan can record it. */
enum field { F_NONE, F_MODEL, F_STREAM, F_STREAM_OPTIONS, F_INCLUDE_USAGE, F_INPUT };

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int hexval(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* A string at s->p (the opening quote). *escaped tells whether it had escapes. */
static int scan_string(scanner *s, int *escaped)
{
    const char *p = s->p + 1, *end = s->end;
    *escaped = 0;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            s->p = p + 1;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c != '\\') {
            p++;
            continue;
        }
        *escaped = 1;
        if (++p >= end) return -1;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p++;
            break;
        case 'u':
            if (end - p < 5 || !hexval(p[1]) || !hexval(p[2]) || !hexval(p[3]) || !hexval(p[4]))
                return -1;
            p += 5;
            break;
        default:
            return -1;
        }
    }
    return -1;
}

static int scan_number(scanner *s)
{
    const char *p = s->p, *end = s->end;
    if (p < end && *p == '-') p++;
    if (p >= end) return -1;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
    else return -1;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    s->p = p;
    return 0;
}

static int literal(scanner *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) return -1;
    s->p += n;
    return 0;
}

static int key_is(const char *k, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

static int scan_value(scanner *s, int depth, enum field f);

static int scan_object(scanner *s, int depth, enum field f)
{
    s->p++; /* '{' */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"') return -1;
        const char *k = s->p + 1;
        int escaped;
        if (scan_string(s, &escaped) < 0) return -1;
        size_t klen = (size_t)(s->p - 1 - k);
        enum field sub = F_NONE;
        if (depth == 0) {
            if (escaped) s->info->escaped_key = 1;
            else if (key_is(k, klen, "model")) sub = F_MODEL;
            else if (key_is(k, klen, "stream")) sub = F_STREAM;
            else if (key_is(k, klen, "stream_options")) sub = F_STREAM_OPTIONS;
            else if (key_is(k, klen, "input")) sub = F_INPUT;
        } else if (f == F_STREAM_OPTIONS && !escaped && key_is(k, klen, "include_usage")) {
            sub = F_INCLUDE_USAGE;
        }
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return -1;
        s->p++;
        skip_ws(s);
        if (scan_value(s, depth + 1, sub) < 0) return -1;
        skip_ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

static int scan_array(scanner *s, int depth, enum field f)
{
    size_t count = 0;
    int first_is_number = 0;
    s->p++; /* '[' */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        goto done;
    }
    for (;;) {
        skip_ws(s);
        if (count == 0 && s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')))
            first_is_number = 1;
        if (scan_value(s, depth + 1, F_NONE) < 0) return -1;
        count++;
        skip_ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == ']') {
            s->p++;
            break;
        }
        return -1;
    }
done:
    /* A list of token ids is one input; a list of strings or of token lists is many. */
    if (f == F_INPUT) s->info->input_count = first_is_number || !count ? 1 : count;
    return 0;
}

static int scan_value(scanner *s, int depth, enum field f)
{
    if (depth > MOCK_JSON_MAX_DEPTH || s->p >= s->end) return -1;
    /* Only the first occurrence of a field counts. */
    int *seen = f == F_MODEL ? &s->seen_model : f == F_STREAM ? &s->seen_stream
              : f == F_STREAM_OPTIONS ? &s->seen_options : f == F_INCLUDE_USAGE ? &s->seen_usage
              : f == F_INPUT ? &s->seen_input : NULL;
    if (seen) {
        if (*seen) f = F_NONE;
        *seen = 1;
    }
    const char *start = s->p;
    int escaped, is_true = 0;
    switch (*s->p) {
    case '{':
        return scan_object(s, depth, f);
    case '[':
        return scan_array(s, depth, f);
    case '"':
        if (scan_string(s, &escaped) < 0) return -1;
        if (f == F_MODEL) {
            s->info->model = start;
            s->info->model_len = (size_t)(s->p - start);
        }
        return 0;
    case 't':
        if (literal(s, "true", 4) < 0) return -1;
        is_true = 1;
        break;
    case 'f':
        if (literal(s, "false", 5) < 0) return -1;
        break;
    case 'n':
        if (literal(s, "null", 4) < 0) return -1;
        break;
    default:
        if (scan_number(s) < 0) return -1;
        break;
    }
    if (f == F_STREAM) s->info->stream = is_true;
    if (f == F_INCLUDE_USAGE) s->info->include_usage = is_true;
    return 0;
}

int mock_json_scan(const char *text, size_t n, mock_json_info *info)
{
    scanner s = {.p = text, .end = text + n, .info = info};
    memset(info, 0, sizeof(*info));
    info->input_count = 1;
    skip_ws(&s);
    info->is_object = s.p < s.end && *s.p == '{';
    if (scan_value(&s, 0, F_NONE) < 0) return -1;
    skip_ws(&s);
    return s.p == s.end ? 0 : -1;
}
