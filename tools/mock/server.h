/*
 * server.h - connections and worker threads of mock-upstream.
 *
 * Each worker thread owns one event base, one listening socket (several
 * workers share the port with SO_REUSEPORT) and the connections it accepted.
 * Nothing about a connection is touched by another thread; the only shared
 * state is the endpoint table (endpoints.h) and the read-only config.
 */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "buf.h"

struct event_base;
struct event;
struct mock_conn;

typedef struct mock_config {
    int chunks;            /* content chunks per stream */
    long chunk_delay_ms;   /* between chunks */
} mock_config;

typedef struct mock_worker {
    const mock_config *cfg;
    struct event_base *base;
    int listen_fd;
    struct event *listen_ev;
    int wake_fd[2];        /* main thread writes a byte to stop this worker */
    struct event *wake_ev;
    struct mock_conn *conns; /* every open connection, to free them at exit */
    uint64_t rng;
    mock_buf scratch;      /* response bodies are built here */
    pthread_t thread;
    int started;
} mock_worker;

/* Set up a worker on an already listening socket; returns 0 or -1. */
int mock_worker_init(mock_worker *w, const mock_config *cfg, int listen_fd, uint64_t seed);
/* Run the worker's loop until mock_worker_stop. */
void *mock_worker_run(void *w);
/* Ask a worker to leave its loop (from any thread or a signal handler's loop). */
void mock_worker_stop(mock_worker *w);
/* Free everything the worker owns; its thread must have ended. */
void mock_worker_free(mock_worker *w);

#endif
