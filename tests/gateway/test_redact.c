/* Unit tests for redact.c: secrets scrubbed from upstream bodies and messages. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "policy.h"
#include "redact.h"

#define KEY "sk-test-0123456789abcdef"

static char *copy_of(const sy_redactor *r, const char *body, int want_rc)
{
    char *out = NULL;
    size_t len = 0;
    int rc = sy_redact_copy(r, body, strlen(body), &out, &len);
    cr_assert_eq(rc, want_rc, "%s", body);
    if (rc == 1) cr_assert_eq(strlen(out), len);
    return out;
}

Test(redact, body_with_no_secret_is_left_alone)
{
    sy_redactor *r = sy_redactor_new();
    sy_redactor_add(r, KEY, NULL);
    cr_assert_null(copy_of(r, "{\"error\":{\"message\":\"bad model\"}}", 0));
    cr_assert_not(sy_redact_found(r, "abc", 3));
    /* A NULL redactor scrubs nothing. */
    cr_assert_null(copy_of(NULL, KEY, 0));
    sy_redactor_free(r);
}

Test(redact, every_occurrence_is_replaced)
{
    sy_redactor *r = sy_redactor_new();
    sy_redactor_add(r, KEY, NULL);
    sy_redactor_add(r, "relay.internal.example", "${RELAY_HOST}");
    const char *body = "{\"error\":{\"message\":\"Incorrect API key: Bearer " KEY
                       " (" KEY ")\",\"host\":\"relay.internal.example\"}}";
    cr_assert(sy_redact_found(r, body, strlen(body)));
    char *out = copy_of(r, body, 1);
    cr_assert_str_eq(out, "{\"error\":{\"message\":\"Incorrect API key: Bearer [redacted] "
                          "([redacted])\",\"host\":\"${RELAY_HOST}\"}}");
    free(out);
    sy_redactor_free(r);
}

Test(redact, json_escaped_form_and_longest_first)
{
    sy_redactor *r = sy_redactor_new();
    sy_redactor_add(r, "ab/cd/ef", NULL);
    sy_redactor_add(r, "abcd", NULL);
    sy_redactor_add(r, "abcdefgh", NULL); /* contains the one above: goes whole */
    sy_redactor_add(r, "abc", NULL);      /* too short to scrub */
    char *out = copy_of(r, "x ab\\/cd\\/ef y abcdefgh z abcd abc", 1);
    cr_assert_str_eq(out, "x [redacted] y [redacted] z [redacted] abc");
    free(out);
    sy_redactor_free(r);
}

Test(redact, message_in_place)
{
    sy_redactor *r = sy_redactor_new();
    sy_redactor_add(r, "no-such-host.invalid", "${RELAY_HOST}");
    sy_redactor_add(r, KEY, NULL);
    char msg[128] = "connect_error: Could not resolve host: no-such-host.invalid";
    sy_redact_str(r, msg, sizeof msg);
    cr_assert_str_eq(msg, "connect_error: Could not resolve host: ${RELAY_HOST}");

    char plain[8] = "abcdef";
    sy_redact_str(r, plain, sizeof plain);
    cr_assert_str_eq(plain, "abcdef");
    sy_redactor_free(r);

    /* Growing past the buffer cuts the message, and what is cut off goes
     * with it: no second copy survives. */
    r = sy_redactor_new();
    sy_redactor_add(r, "abcdefgh", "${A_VERY_LONG_VARIABLE_NAME}");
    char small[24] = "abcdefgh:abcdefgh";
    sy_redact_str(r, small, sizeof small);
    cr_assert_str_eq(small, "${A_VERY_LONG_VARIABLE_");
    sy_redactor_free(r);
}

Test(redact, message_cut_inside_a_secret)
{
    sy_redactor *r = sy_redactor_new();
    sy_redactor_add(r, KEY, NULL);
    char msg[64] = "HTTP 400: Bearer sk-test-0123"; /* cut 13 bytes into the key */
    sy_redact_str(r, msg, sizeof msg);
    cr_assert_str_eq(msg, "HTTP 400: Bearer [redacted]");
    char short_tail[64] = "HTTP 400: sk-te"; /* too little of it to tell */
    sy_redact_str(r, short_tail, sizeof short_tail);
    cr_assert_str_eq(short_tail, "HTTP 400: sk-te");
    sy_redactor_free(r);
}

Test(redact, cut_keeps_utf8_whole)
{
    sy_redactor *r = sy_redactor_new();
    sy_redactor_add(r, "abcd", "${A_LONGER_NAME}");
    char msg[12] = "abcd \xc3\xa9\xc3\xa9"; /* grows to 20 bytes, cut at 11 */
    sy_redact_str(r, msg, sizeof msg);
    cr_assert_str_eq(msg, "${A_LONGER_");
    char msg2[22] = "abcd\xe2\x82\xac"; /* "${A_LONGER_NAME}" + 3-byte euro = 19: fits */
    sy_redact_str(r, msg2, sizeof msg2);
    cr_assert_str_eq(msg2, "${A_LONGER_NAME}\xe2\x82\xac");
    char msg3[19] = "abcd\xe2\x82\xac"; /* 18 bytes of room: the euro sign would be cut, so it goes */
    sy_redact_str(r, msg3, sizeof msg3);
    cr_assert_str_eq(msg3, "${A_LONGER_NAME}");
    sy_redactor_free(r);
}

Test(redact, built_from_a_policy)
{
    setenv("SY_T_REDACT_HOST", "relay-7.internal", 1);
    setenv("SY_T_REDACT_ADMIN", "adm-secret-redact-1", 1);
    setenv("SY_T_REDACT_CLIENTS", "client-redact-a,client-redact-b", 1);
    static const char pol[] =
        "version: 1\n"
        "server:\n"
        "  client_keys: ${SY_T_REDACT_CLIENTS}\n"
        "  admin_key: ${SY_T_REDACT_ADMIN}\n"
        "providers:\n"
        "  p:\n"
        "    plugin: openai\n"
        "    endpoints:\n"
        "      - {name: a, base_url: \"https://${SY_T_REDACT_HOST}/v1\"}\n"
        "migration: {stable: p}\n";
    sy_diags d;
    sy_diags_init(&d);
    sy_policy *p = sy_policy_load_buffer("t.yaml", pol, sizeof pol - 1, SY_LOAD_SERVE, NULL, &d);
    cr_assert_not_null(p);
    cr_assert_not_null(p->redactor);
    char msg[160] = "relay-7.internal adm-secret-redact-1 client-redact-a client-redact-b";
    sy_redact_str(p->redactor, msg, sizeof msg);
    cr_assert_str_eq(msg, "${SY_T_REDACT_HOST} [redacted] [redacted] [redacted]");
    sy_policy_unref(p);
    sy_diags_free(&d);
}
