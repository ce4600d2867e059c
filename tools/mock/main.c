/*
 * main.c - mock-upstream: an OpenAI-compatible upstream with fault injection
 * for switchyard's tests, demo and benchmarks. The contract (options,
 * endpoints, faults, /_stats) is in tools/README.md.
 *
 * The main thread only parses options, binds the listeners, starts the
 * workers and waits for SIGTERM/SIGINT; the workers serve (server.c).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "endpoints.h"
#include "server.h"
#include "store.h"

#define MAX_THREADS 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mock-upstream [--listen HOST:PORT] [--port-file FILE] [--chunks N]\n"
            "                     [--chunk-delay-ms N] [--fault ENDPOINT:key=value,...]...\n"
            "                     [--threads N] [--seed N]\n"
            "\n"
            "  --listen HOST:PORT   address to serve (default 127.0.0.1:0; port 0 picks a free one)\n"
            "  --port-file FILE     write the port chosen to FILE\n"
            "  --chunks N           content chunks per stream (default 5)\n"
            "  --chunk-delay-ms N   pause between stream chunks (default 0)\n"
            "  --fault SPEC         faults of one endpoint, e.g. r1:error_rate=0.5,error_status=503\n"
            "                       keys: error_rate fail_next error_status retry_after latency_ms\n"
            "                       latency_jitter_ms truncate_after hang malformed echo_auth\n"
            "                       body_bytes header_bytes sse_cr chunked (headers: /_control only)\n"
            "  --threads N          worker threads sharing the port with SO_REUSEPORT (default 1)\n"
            "  --seed N             seed of error_rate and jitter draws (default: time)\n"
            "\n"
            "Endpoints: [/NAME]/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models,\n"
            "           /v1/responses, /v1/responses/ID[/input_items|/cancel];\n"
            "control: POST /_control/NAME {faults}, GET /_stats, POST /_stats/reset.\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Split "HOST:PORT" or "[V6]:PORT". */
static int split_listen(const char *arg, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    if (arg[0] == '[') {
        const char *rb = strchr(arg, ']');
        if (!rb || rb[1] != ':') return -1;
        if ((size_t)(rb - arg - 1) >= hostlen) return -1;
        memcpy(host, arg + 1, (size_t)(rb - arg - 1));
        host[rb - arg - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= hostlen) return -1;
        memcpy(host, arg, (size_t)(colon - arg));
        host[colon - arg] = '\0';
    }
    if (!colon[1] || strlen(colon + 1) >= portlen) return -1;
    strcpy(port, colon + 1);
    return 0;
}

/* Bind one listening socket; *port_io in/out (0 = any, then set). */
static int bind_one(const char *host, int *port_io, int reuseport, char *shown, size_t shownlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", *port_io);
    int rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
    if (rc) {
        fprintf(stderr, "mock-upstream: cannot resolve '%s': %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) goto fail;
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) goto fail;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char hbuf[NI_MAXHOST], sbuf[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof(hbuf), sbuf, sizeof(sbuf),
                    NI_NUMERICHOST | NI_NUMERICSERV))
        goto fail;
    *port_io = atoi(sbuf);
    snprintf(shown, shownlen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", hbuf, sbuf);
    freeaddrinfo(res);
    return fd;
fail:
    fprintf(stderr, "mock-upstream: cannot listen on %s:%s: %s\n", host, portstr, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return -1;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"port-file", required_argument, NULL, 'p'},
        {"chunks", required_argument, NULL, 'c'},   {"chunk-delay-ms", required_argument, NULL, 'd'},
        {"fault", required_argument, NULL, 'f'},    {"threads", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_arg = "127.0.0.1:0", *port_file = NULL;
    mock_config cfg = {.chunks = 5, .chunk_delay_ms = 0};
    long threads = 1, v;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    char err[512];
    int status = 2, opt;
    mock_worker workers[MAX_THREADS];
    long n_workers = 0;
    struct event_base *main_base = NULL;
    struct event *sigterm = NULL, *sigint = NULL;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': listen_arg = optarg; break;
        case 'p': port_file = optarg; break;
        case 'c':
            if (parse_long(optarg, 0, 100000, &v) < 0) {
                fprintf(stderr, "mock-upstream: --chunks wants 0..100000\n");
                goto out;
            }
            cfg.chunks = (int)v;
            break;
        case 'd':
            if (parse_long(optarg, 0, 3600000, &cfg.chunk_delay_ms) < 0) {
                fprintf(stderr, "mock-upstream: --chunk-delay-ms wants 0..3600000\n");
                goto out;
            }
            break;
        case 'f':
            if (mock_endpoints_fault_arg(optarg, err, sizeof(err)) < 0) {
                fprintf(stderr, "mock-upstream: %s\n", err);
                goto out;
            }
            break;
        case 't':
            if (parse_long(optarg, 1, MAX_THREADS, &threads) < 0) {
                fprintf(stderr, "mock-upstream: --threads wants 1..%d\n", MAX_THREADS);
                goto out;
            }
            break;
        case 's':
            if (parse_long(optarg, 0, LONG_MAX, &v) < 0) {
                fprintf(stderr, "mock-upstream: --seed wants a number\n");
                goto out;
            }
            seed = (uint64_t)v;
            break;
        case 'h': usage(stdout); status = 0; goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mock-upstream: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        goto out;
    }

    char host[256], port[16], shown[300];
    int portnum;
    if (split_listen(listen_arg, host, sizeof(host), port, sizeof(port)) < 0 ||
        parse_long(port, 0, 65535, &v) < 0) {
        fprintf(stderr, "mock-upstream: --listen wants HOST:PORT, not '%s'\n", listen_arg);
        goto out;
    }
    portnum = (int)v;
    status = 1;
    signal(SIGPIPE, SIG_IGN);
    /* Workers inherit a mask without SIGTERM/SIGINT: only the main thread takes them. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);

    main_base = event_base_new();
    if (!main_base) goto out;
    sigterm = evsignal_new(main_base, SIGTERM, on_signal, main_base);
    sigint = evsignal_new(main_base, SIGINT, on_signal, main_base);
    if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0) goto out;

    for (long i = 0; i < threads; i++) {
        int fd = bind_one(host, &portnum, threads > 1, shown, sizeof(shown));
        if (fd < 0) goto out;
        if (mock_worker_init(&workers[i], &cfg, fd, seed + (uint64_t)i * 0x9e3779b97f4a7c15ull) < 0) {
            fprintf(stderr, "mock-upstream: cannot set up worker %ld\n", i);
            n_workers = i + 1;
            goto out;
        }
        n_workers = i + 1;
    }
    for (long i = 0; i < n_workers; i++) {
        if (pthread_create(&workers[i].thread, NULL, mock_worker_run, &workers[i]) != 0) {
            fprintf(stderr, "mock-upstream: cannot start a thread\n");
            goto out;
        }
        workers[i].started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (port_file && write_port_file(port_file, portnum) < 0) {
        fprintf(stderr, "mock-upstream: cannot write %s: %s\n", port_file, strerror(errno));
        goto out;
    }
    printf("listening on %s\n", shown);
    fflush(stdout);

    event_base_dispatch(main_base);
    status = 0;
out:
    for (long i = 0; i < n_workers; i++) mock_worker_stop(&workers[i]);
    for (long i = 0; i < n_workers; i++)
        if (workers[i].started) pthread_join(workers[i].thread, NULL);
    for (long i = 0; i < n_workers; i++) mock_worker_free(&workers[i]);
    if (sigterm) event_free(sigterm);
    if (sigint) event_free(sigint);
    if (main_base) event_base_free(main_base);
    mock_endpoints_free();
    mock_store_free();
    return status;
}
