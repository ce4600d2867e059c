/* access_log.c - not written yet */
typedef int sy_placeholder_access_log;
