/*
 * helpers.h - loading policies from strings and asserting on diagnostics,
 * for the policy tests (suite 'policy').
 */
#ifndef SY_TEST_POLICY_HELPERS_H
#define SY_TEST_POLICY_HELPERS_H

#include <criterion/criterion.h>

#include "loader.h"
#include "policy.h"

/* A loaded policy with its diagnostics and (optional) plugin registry. */
typedef struct tload {
    sy_policy *p;
    sy_diags d;
    sy_plugin_registry reg;
    int has_reg;
} tload;

/* Load text as "test.yaml". with_plugins: use a registry (SWITCHYARD_PLUGIN_PATH). */
void tl_load(tload *t, const char *yaml, sy_load_mode mode, int with_plugins);
void tl_free(tload *t);

/* Every diagnostic, printed as `validate` prints them (caller frees). */
char *tl_printed(const sy_diags *d);

/* The first diagnostic of level whose message contains needle (NULL: any). */
const sy_diag *tl_find(const sy_diags *d, sy_diag_level level, const char *needle);

/* Assert a diagnostic of level at line:col whose message contains needle. */
#define tl_expect(d, level, ln_, cl_, needle)                                               \
    do {                                                                                    \
        const sy_diag *tl_hit_ = tl_find((d), (level), (needle));                           \
        char *tl_all_ = tl_printed(d);                                                      \
        cr_assert(tl_hit_, "no %s containing \"%s\"; got:\n%s",                             \
                  (level) == SY_DIAG_ERROR ? "error" : "warning", (needle), tl_all_);       \
        cr_expect(tl_hit_->line == (unsigned)(ln_) && tl_hit_->col == (unsigned)(cl_),      \
                  "\"%s\" at %u:%u, expected %u:%u; all:\n%s", tl_hit_->msg, tl_hit_->line,  \
                  tl_hit_->col, (unsigned)(ln_), (unsigned)(cl_), tl_all_);                 \
        free(tl_all_);                                                                      \
    } while (0)

/* A minimal valid policy body around extra text (for one-key tests). */
#define TL_PROVIDER                                                                         \
    "providers:\n"                                                                          \
    "  p:\n"                                                                                \
    "    plugin: mock\n"                                                                    \
    "    endpoints:\n"                                                                      \
    "      - {name: e1}\n"

#endif
