/*
 * policy_keys.h - the policy's keys as data, and the loader's internals.
 *
 * Every mapping of the policy has one key table (policy_keys.c): key name,
 * type, default, range, help, and where the parsed value goes in the typed
 * policy (offset into the section's struct). One table serves the parser
 * (policy_value.c walks it), the unknown-key message ("valid keys: ..."),
 * `switchyard validate --list-keys` (which the JSON Schema test compares
 * against policies/switchyard.schema.json) and docs/policy.md.
 *
 * Keys whose shape the generic walker cannot fill (lists, mappings whose keys
 * the user names) have a parse callback (policy_load.c); their child table
 * still describes what is inside, for the unknown-key check and the key list.
 *
 * Private to router/core/policy_*.c and the validate command.
 */
#ifndef SY_POLICY_KEYS_H
#define SY_POLICY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "yaml_tree.h"

typedef enum sy_pk_type {
    SY_PK_MAP = 1,     /* a mapping with the keys of .child; .offset locates its struct */
    SY_PK_MAP_OF,      /* a mapping whose keys the user names (providers, prices); .parse */
    SY_PK_LIST_OF_MAPS,/* a list of mappings (endpoints); .parse */
    SY_PK_LIST,        /* a list of scalars (retry.on, sticky_by, ...); .parse */
    SY_PK_STRING,      /* char * */
    SY_PK_SECRET,      /* char *, never printed */
    SY_PK_URL,         /* char *, absolute http(s) URL, no trailing '/' */
    SY_PK_PATH,        /* char *, a file path; relative = to the policy's folder */
    SY_PK_INT,         /* int */
    SY_PK_NUMBER,      /* double */
    SY_PK_BOOL,        /* int 0/1 */
    SY_PK_DURATION,    /* int64_t milliseconds */
    SY_PK_SIZE,        /* uint64_t bytes */
    SY_PK_PERCENT,     /* double 0..100 */
    SY_PK_ENUM,        /* int: index into .choices (matches the C enum's order) */
    SY_PK_CUSTOM,      /* a scalar (or either shape) read by .parse */
} sy_pk_type;

/* flags */
#define SY_PKF_REQUIRED 0x1u     /* must be given when its mapping is */
#define SY_PKF_ENV_OPTIONAL 0x2u /* an unset ${VAR} means "not given" (warning, also in serve) */
#define SY_PKF_POSITIVE 0x4u     /* numbers and durations: must be > 0 */
#define SY_PKF_RANGE 0x8u        /* numbers and ints: lo <= v <= hi */
#define SY_PKF_PRESENT 0x10u     /* MAP: set the int at .present (in the child struct) when given */
#define SY_PKF_EARLY 0x20u       /* parsed before the rest of its mapping (plugins.path first) */
#define SY_PKF_QUIET_UNSET 0x40u /* sy_pk_text: the caller reports an unset ${VAR} itself */

typedef struct sy_pctx sy_pctx;
struct sy_pkey;

/* Parse one value for a key with a callback. base is the struct the key's
 * table is relative to. Reports problems to c->d. */
typedef void (*sy_pk_parse_fn)(sy_pctx *c, const sy_ynode *key, const sy_ynode *value, void *base,
                               const struct sy_pkey *k, const char *path);

typedef struct sy_pkey {
    const char *name;
    sy_pk_type type;
    size_t offset;              /* of the field (or of the child struct for MAP) in base */
    const char *def;            /* default, as policy text; for docs, and parsed for scalars */
    unsigned flags;
    double lo, hi;              /* SY_PKF_RANGE */
    const char *const *choices; /* SY_PK_ENUM, NULL-terminated */
    const struct sy_pkey *child;/* MAP, MAP_OF and LIST_OF_MAPS values (may be NULL) */
    sy_pk_parse_fn parse;       /* MAP_OF, LIST_OF_MAPS, LIST, CUSTOM */
    size_t present;             /* SY_PKF_PRESENT: offset of an int in the child struct */
    const char *type_doc;       /* how docs and --list-keys name the type, e.g. "list of models" */
    const char *help;
} sy_pkey;

/* Callbacks for keys the generic walker cannot fill (policy_load.c). */
#define SY_PK_PARSER(fn)                                                                     \
    void fn(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base, const sy_pkey *k, \
            const char *path)
SY_PK_PARSER(sy_pk_parse_version);
SY_PK_PARSER(sy_pk_parse_listen);
SY_PK_PARSER(sy_pk_parse_client_keys);
SY_PK_PARSER(sy_pk_parse_access_log);
SY_PK_PARSER(sy_pk_parse_plugin_path);
SY_PK_PARSER(sy_pk_parse_providers);
SY_PK_PARSER(sy_pk_parse_endpoints);
SY_PK_PARSER(sy_pk_parse_name);
SY_PK_PARSER(sy_pk_parse_base_url);
SY_PK_PARSER(sy_pk_parse_health_path);
SY_PK_PARSER(sy_pk_parse_retry_on);
SY_PK_PARSER(sy_pk_parse_fallbacks);
SY_PK_PARSER(sy_pk_parse_prices);
SY_PK_PARSER(sy_pk_parse_provider_prices);
SY_PK_PARSER(sy_pk_parse_provider_ref);
SY_PK_PARSER(sy_pk_parse_sticky);
SY_PK_PARSER(sy_pk_parse_canary_endpoints);
SY_PK_PARSER(sy_pk_parse_steps);
SY_PK_PARSER(sy_pk_parse_shared_url);

/* The tables (NULL-name terminated). */
extern const sy_pkey sy_pk_root[];
extern const sy_pkey sy_pk_provider[];
extern const sy_pkey sy_pk_endpoint[];
extern const sy_pkey sy_pk_price[];

/* Call fn for every key path the parser knows, in table order: "server.listen",
 * "providers.*.endpoints[].name" ("*" a name the user picks, "[]" a list item). */
typedef void (*sy_pk_path_fn)(void *ctx, const char *path, const sy_pkey *k);
void sy_policy_walk_keys(sy_pk_path_fn fn, void *ctx);
const char *sy_pk_type_name(const sy_pkey *k);

/* ------------------------------------------------------------ load context */

struct sy_pctx {
    sy_diags *d;
    sy_load_mode mode;
    sy_policy *p;
    struct sy_plugin_registry *reg;
    const char *file;        /* for diagnostics without a node */
    char *dir;               /* the policy's folder, for relative paths */
    const sy_ynode *root;
    /* Locations kept for checks that run after parsing. */
    sy_loc providers_loc, migration_loc, stable_loc, canary_loc;
    sy_loc **fallback_to_loc; /* per chain, per target */
    sy_loc *canary_ep_loc;
    int have_stable, have_canary;
    size_t prov_errors;      /* errors before the current provider was read */
    unsigned suggestions;    /* "did you mean" searches made (capped: each is costly) */
    int early_done;          /* SY_PKF_EARLY keys of the root are parsed */
    const sy_ynode *client_keys_unset; /* server.client_keys named an unset ${VAR} */
    /* Values from the environment given to the current provider's plugin,
     * with their raw text: scrubbed out of any message the plugin writes. */
    struct sy_pk_envval {
        char *value;
        const char *raw;
    } *env_vals;
    size_t n_env_vals;
    char *stable_name, *canary_name; /* expanded names, before they are resolved */
    const sy_ynode *stable_node, *canary_node;
};

/* "Any extra key is fine": for provider/endpoint mappings whose plugin is unknown. */
extern const sy_config_key sy_pk_any_extra[];

/* Parse a mapping against table into base. Keys in neither table nor extra
 * (a plugin's declared keys) are errors that name the valid keys and the
 * nearest one. Applies nothing for keys not given (see sy_pk_defaults). */
void sy_pk_parse_map(sy_pctx *c, const sy_ynode *key, const sy_ynode *map, const sy_pkey *table,
                     void *base, const char *path, const sy_config_key *extra,
                     const char *extra_owner);
/* Parse one value for table entry k (any type) into base. */
void sy_pk_parse_value(sy_pctx *c, const sy_ynode *key, const sy_ynode *v, void *base,
                       const sy_pkey *k, const char *path);
/* Apply the scalar defaults of table (recursing into MAP entries) to base. */
void sy_pk_defaults(sy_pctx *c, const sy_pkey *table, void *base);

/* A scalar's text with ${VAR} expanded. Returns a malloc'd string, or NULL
 * when the node is not a scalar, is null, or names an unset variable (each
 * reported; *unset is set for the latter so callers can skip it quietly).
 * *from_env is set when the text used the environment: then the value must
 * never be printed; messages quote node->str. */
char *sy_pk_text(sy_pctx *c, const sy_ynode *v, const char *path, unsigned flags, int *from_env,
                 int *unset);
/* A name (provider, endpoint, plugin, model, canary endpoint, sticky source)
 * as written: names are never read from the environment (`${` in one is an
 * error), so no expanded value can ever appear in a message about a name.
 * Returns a malloc'd copy, or NULL after reporting. */
char *sy_pk_literal(sy_pctx *c, const sy_ynode *v, const char *path);
/* Typed scalar readers; return 0 on success, -1 after reporting. */
int sy_pk_int(sy_pctx *c, const sy_ynode *v, const char *path, int64_t *out, int *unset);
int sy_pk_number(sy_pctx *c, const sy_ynode *v, const char *path, double *out, int *unset);
int sy_pk_bool(sy_pctx *c, const sy_ynode *v, const char *path, int *out, int *unset);
int sy_pk_duration(sy_pctx *c, const sy_ynode *v, const char *path, int64_t *out, int *unset);
int sy_pk_percent(sy_pctx *c, const sy_ynode *v, const char *path, double *out, int *unset);
/* An absolute http(s) URL; the result has no trailing '/'. NULL after reporting. */
char *sy_pk_url(sy_pctx *c, const sy_ynode *v, const char *path, int *unset);
/* Check text is an absolute http(s) URL; returns a static reason or NULL. */
const char *sy_pk_url_problem(const char *s);
/* A name for providers, endpoints, models: printable, no spaces, <= 128 bytes. */
int sy_pk_name_ok(const char *s);

/* sy_nearest over a list that may be long (names the user wrote): NULL once
 * a load has made enough of these searches, so a file with thousands of bad
 * references stays fast. */
const char *sy_pk_nearest(sy_pctx *c, const char *word, const char *const *cands, size_t n);
/* Duplicates in names[0..n) (NULL entries are skipped): returns a malloc'd
 * array where first[i] is the index of the first name equal to names[i]
 * (i itself when names[i] is the first). O(n log n). */
size_t *sy_pk_first_of(const char *const *names, size_t n);
/* Is name in sorted[0..n)? (bsearch over strcmp order) */
int sy_pk_sorted_has(const char *const *sorted, size_t n, const char *name);
void sy_pk_sort_names(const char **names, size_t n);

/* Wrong shape: "`path`: expected a mapping, got a list". */
void sy_pk_expect(sy_pctx *c, const sy_ynode *v, const char *path, const char *what);
/* path + "." + name into buf. */
const char *sy_pk_join(char *buf, size_t cap, const char *path, const char *name);
/* Resolve a relative file path against the policy's folder (malloc'd). */
char *sy_pk_resolve_path(const sy_pctx *c, const char *path);

/* policy_plugin.c: the provider's plugin. _load loads it (from its `plugin:`
 * value) and returns the extra keys the provider mapping may hold (the
 * plugin's config keys; sy_pk_any_extra when it is unknown). _finish parses
 * and stores the plugin's keys, creates the instance and resolves the
 * endpoints' base URLs. */
const sy_config_key *sy_pk_provider_load(sy_pctx *c, sy_policy_provider *prov,
                                         const sy_ynode *map, const char *path);
const sy_config_key *sy_pk_endpoint_extra(sy_pctx *c, const sy_policy_provider *prov);
void sy_pk_endpoint_plugin(sy_pctx *c, sy_policy_provider *prov, sy_policy_endpoint *ep,
                           const sy_ynode *map, const char *path);
void sy_pk_provider_finish(sy_pctx *c, sy_policy_provider *prov, const sy_ynode *key,
                           const sy_ynode *map, const char *path);
/* Forget (and wipe) c->env_vals. */
void sy_pk_env_vals_clear(sy_pctx *c);
/* Free values aligned with keys (wiping secrets). */
void sy_pk_free_config(const sy_config_key *keys, sy_config_value *vals);

/* policy_check.c: checks across sections, after every section is parsed. */
void sy_pk_check_policy(sy_pctx *c);

/* policy.c */
void sy_policy_free(sy_policy *p);
void *sy_xcalloc(size_t n, size_t size);
char *sy_xstrdup(const char *s);

#endif
