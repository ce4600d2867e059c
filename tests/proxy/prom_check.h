/*
 * prom_check.h - a strict parser/checker for the Prometheus text exposition
 * format (0.0.4), for tests. Stricter than Prometheus itself where our output
 * is concerned:
 *   - every line is "# HELP name text", "# TYPE name type", another comment,
 *     or "name{l="v",...} value [timestamp]" with single spaces; no blank lines;
 *     the text ends with a newline;
 *   - names and label names are valid, label values use only \\ \" \n escapes
 *     and are valid UTF-8, values are Go-style floats (or +Inf, -Inf, NaN);
 *   - every sample belongs to a family that had both HELP and TYPE before it;
 *     a family's lines are contiguous; HELP/TYPE at most once per family;
 *   - no duplicate series and no duplicate label names; counters are >= 0;
 *   - histograms: every label set has _bucket lines with strictly increasing le,
 *     non-decreasing cumulative counts, a last le="+Inf" equal to _count, and
 *     a _sum.
 * Usable by any test that scrapes /metrics.
 */
#ifndef SY_TEST_PROM_CHECK_H
#define SY_TEST_PROM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct prom_label {
    char *name;
    char *value; /* unescaped */
} prom_label;

typedef struct prom_sample {
    char *name;
    prom_label *labels;
    int nlabels;
    double value;
    int family; /* index into prom_doc.families */
    int line;
} prom_sample;

typedef struct prom_family {
    char *name;
    char type[16];
    bool has_help;
    bool closed; /* another family started after it */
} prom_family;

typedef struct prom_doc {
    prom_sample *samples;
    size_t n, cap;
    prom_family *families;
    size_t nf, fcap;
} prom_doc;

/* 0 when text is valid; -1 with "line N: problem" in err. doc is filled
 * either way and must be freed. */
int prom_parse(const char *text, size_t len, prom_doc *doc, char *err, size_t errlen);
void prom_doc_free(prom_doc *doc);

/* The sample with exactly these labels: name, then label name/value pairs,
 * then NULL. false when absent. */
bool prom_get(const prom_doc *doc, double *out, const char *name, ...);
/* Sum over samples of name whose labels include the given pairs (NULL-terminated). */
double prom_sum(const prom_doc *doc, const char *name, ...);
/* Number of samples named name. */
size_t prom_count(const prom_doc *doc, const char *name);
/* The family record, or NULL. */
const prom_family *prom_family_get(const prom_doc *doc, const char *name);

#endif
