/*
 * log.h - the router's own log lines, to stderr:
 *   2026-11-27T23:40:01.123Z info: listening on 127.0.0.1:8080 (2 workers)
 * Never pass a secret to these functions.
 */
#ifndef SY_LOG_H
#define SY_LOG_H

enum { SY_LOG_LVL_ERROR = 0, SY_LOG_LVL_WARN, SY_LOG_LVL_INFO, SY_LOG_LVL_DEBUG };

void sy_log_set_level(int level);
void sy_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define sy_log_error(...) sy_log(SY_LOG_LVL_ERROR, __VA_ARGS__)
#define sy_log_warn(...) sy_log(SY_LOG_LVL_WARN, __VA_ARGS__)
#define sy_log_info(...) sy_log(SY_LOG_LVL_INFO, __VA_ARGS__)
#define sy_log_debug(...) sy_log(SY_LOG_LVL_DEBUG, __VA_ARGS__)

#endif
