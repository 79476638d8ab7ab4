/* C tests of libpierhead, compiled against the committed include/pierhead.h with
 * -Wall -Wextra -Wpedantic -Werror and run under AddressSanitizer + UBSan, linked
 * both dynamically and statically, and once under valgrind (scripts/test-c.sh).
 * Every test talks to a real server over loopback. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pierhead.h"


static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends `req` on a fresh connection and reads until the server closes. */
static size_t http_exchange(uint16_t port, const char *req, char *out, size_t cap) {
    int fd = connect_to(port);
    if (fd < 0) return 0;
    if (write(fd, req, strlen(req)) < 0) { close(fd); return 0; }
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = read(fd, out + got, cap - 1 - got)) > 0) got += (size_t)n;
    out[got] = 0;
    close(fd);
    return got;
}

static pierhead_server *start(pierhead_config *cfg) {
    pierhead_server *srv = NULL;
    if (pierhead_server_start(cfg, &srv) != PIERHEAD_RESULT_OK) return NULL;
    return srv;
}

/* Starts a server from cfg, frees cfg, and writes the server's port: the server,
 * or NULL (and *port untouched) if it did not start. */
static pierhead_server *start_from(pierhead_config *cfg, uint16_t *port) {
    pierhead_server *srv = start(cfg);
    pierhead_config_free(cfg);
    if (srv != NULL && pierhead_server_port(srv, port) != PIERHEAD_RESULT_OK) {
        pierhead_server_free(srv);
        return NULL;
    }
    return srv;
}

static void test_version(void) {
    CHECK(pierhead_version() == PIERHEAD_VERSION_NUMBER);
    CHECK((PIERHEAD_VERSION_NUMBER >> 16) == PIERHEAD_VERSION_MAJOR);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", PIERHEAD_VERSION_MAJOR, PIERHEAD_VERSION_MINOR,
             PIERHEAD_VERSION_PATCH);
    CHECK(strcmp(pierhead_version_string(), want) == 0);
}

static void test_null_arguments(void) {
    CHECK(pierhead_config_new(NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_config_set_workers(NULL, 1) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_config_set_bind(NULL, "127.0.0.1:0") == PIERHEAD_RESULT_NULL_PARAMETER);
    pierhead_server *srv = NULL;
    CHECK(pierhead_server_start(NULL, &srv) == PIERHEAD_RESULT_NULL_PARAMETER && srv == NULL);
    uint16_t port = 7;
    CHECK(pierhead_server_port(NULL, &port) == PIERHEAD_RESULT_NULL_PARAMETER && port == 7);
    pierhead_stats st = {.struct_size = sizeof st};
    CHECK(pierhead_server_stats(NULL, &st) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_server_stop(NULL, 0, NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    pierhead_server_free(NULL);
    pierhead_config_free(NULL);
    CHECK(strcmp(pierhead_result_str(PIERHEAD_RESULT_NULL_PARAMETER),
                 "a required pointer argument was NULL") == 0);
    CHECK(strcmp(pierhead_result_str(12345), "unknown result") == 0);

    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    CHECK(pierhead_config_set_bind(cfg, NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_config_set_stats_callback(cfg, 10, NULL, NULL, NULL) ==
          PIERHEAD_RESULT_NULL_PARAMETER);
    pierhead_config_free(cfg);
}

static void test_invalid_config_names_the_field(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_workers(cfg, 0));
    pierhead_server *srv = NULL;
    CHECK(pierhead_server_start(cfg, &srv) == PIERHEAD_RESULT_INVALID_CONFIG);
    CHECK(srv == NULL); /* outputs only on success */
    char msg[256];
    size_t len = 0;
    OK(pierhead_last_error_message(msg, sizeof msg, &len));
    CHECK(strstr(msg, "`workers`") != NULL && len == strlen(msg));
    char tiny[4];
    CHECK(pierhead_last_error_message(tiny, sizeof tiny, NULL) ==
          PIERHEAD_RESULT_BUFFER_TOO_SMALL);
    CHECK(pierhead_config_add_static_route(cfg, "GET", "no-slash", false, 200, NULL, NULL, 0) ==
          PIERHEAD_RESULT_INVALID_PARAMETER);
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "route.path") != NULL);
    OK(pierhead_config_set_workers(cfg, 1));
    OK(pierhead_config_set_max_headers(cfg, 0));
    CHECK(pierhead_server_start(cfg, &srv) == PIERHEAD_RESULT_INVALID_CONFIG);
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`max_headers`") != NULL);
    pierhead_config_free(cfg);
}

static void test_bind_conflict_message(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_workers(cfg, 1));
    pierhead_server *a = start(cfg);
    CHECK(a != NULL);
    uint16_t port = 0;
    OK(pierhead_server_port(a, &port));
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    OK(pierhead_config_set_bind(cfg, addr));
    pierhead_server *b = NULL;
    CHECK(pierhead_server_start(cfg, &b) == PIERHEAD_RESULT_BIND_FAILED && b == NULL);
    char msg[256];
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, addr) != NULL);
    CHECK(strstr(msg, "in use") != NULL);
    pierhead_server_free(a);
    pierhead_config_free(cfg);
}

static void test_echo_and_stats(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_ECHO));
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);
    int fd = connect_to(port);
    CHECK(fd >= 0);
    CHECK(write(fd, "ping", 4) == 4);
    char buf[8] = {0};
    CHECK(read(fd, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0);

    pierhead_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    /* The counters are updated just after the bytes move: wait a little for them. */
    for (int i = 0; i < 400; i++) {
        OK(pierhead_server_stats(srv, &st));
        if (st.bytes_written == 4) break;
        sleep_ms(5);
    }
    CHECK(st.struct_size == sizeof st);
    CHECK(st.state == PIERHEAD_STATE_RUNNING);
    CHECK(st.connections_accepted == 1 && st.connections_active == 1);
    CHECK(st.bytes_read == 4 && st.bytes_written == 4);

    /* An older caller knowing only the fields up to bytes_read: the rest untouched. */
    pierhead_stats old;
    memset(&old, 0xAB, sizeof old);
    old.struct_size = (uint32_t)offsetof(pierhead_stats, bytes_written);
    OK(pierhead_server_stats(srv, &old));
    CHECK(old.connections_accepted == 1 && old.bytes_read == 4);
    CHECK(old.bytes_written == 0xABABABABABABABABull);
    old.struct_size = 2;
    CHECK(pierhead_server_stats(srv, &old) == PIERHEAD_RESULT_INVALID_PARAMETER);

    pierhead_stop_report r;
    memset(&r, 0, sizeof r);
    OK(pierhead_server_stop(srv, 1000, &r));
    CHECK(r.complete == 1 && r.idle_closed == 1);
    CHECK(read(fd, buf, 1) == 0); /* closed by the stop */
    close(fd);
    pierhead_server_free(srv);
}

struct ticks {
    atomic_int calls;
    atomic_int finalized;
    atomic_int stop_from_callback; /* 1: stop inside the callback */
    _Atomic(pierhead_server *) srv;
    atomic_int stop_result;
    atomic_int stop_complete;
};

static void on_stats(void *user_data, const pierhead_stats *stats) {
    struct ticks *t = user_data;
    if (stats->struct_size != sizeof(pierhead_stats)) return;
    int n = atomic_fetch_add(&t->calls, 1) + 1;
    pierhead_server *srv = atomic_load(&t->srv);
    if (atomic_load(&t->stop_from_callback) && n == 3 && srv != NULL) {
        pierhead_stop_report r;
        memset(&r, 0, sizeof r);
        pierhead_result res = pierhead_server_stop(srv, 1000, &r);
        atomic_store(&t->stop_complete, r.complete);
        atomic_store(&t->stop_result, (int)res);
    }
}

static void on_finalize(void *user_data) {
    struct ticks *t = user_data;
    atomic_fetch_add(&t->finalized, 1);
}

static void test_stats_callback_and_finalizer(void) {
    struct ticks t;
    memset(&t, 0, sizeof t);
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_stats_callback(cfg, 20, on_stats, &t, on_finalize));
    pierhead_server *srv = start(cfg);
    CHECK(srv != NULL);
    pierhead_config_free(cfg);
    CHECK(atomic_load(&t.finalized) == 0); /* the server still holds it */
    for (int i = 0; i < 500 && atomic_load(&t.calls) < 3; i++) sleep_ms(5);
    CHECK(atomic_load(&t.calls) >= 3);
    pierhead_stop_report r;
    OK(pierhead_server_stop(srv, 1000, &r));
    int after_stop = atomic_load(&t.calls);
    sleep_ms(60);
    CHECK(atomic_load(&t.calls) == after_stop); /* no callback after stop returned */
    pierhead_server_free(srv);
    CHECK(atomic_load(&t.finalized) == 1);
}

static void test_stop_inside_callback_and_double_stop(void) {
    struct ticks t;
    memset(&t, 0, sizeof t);
    atomic_store(&t.stop_from_callback, 1);
    atomic_store(&t.stop_result, -1);
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_stats_callback(cfg, 10, on_stats, &t, NULL));
    pierhead_server *srv = start(cfg);
    pierhead_config_free(cfg);
    CHECK(srv != NULL);
    atomic_store(&t.srv, srv);
    for (int i = 0; i < 500 && atomic_load(&t.stop_result) == -1; i++) sleep_ms(5);
    CHECK(atomic_load(&t.stop_result) == PIERHEAD_RESULT_OK);
    CHECK(atomic_load(&t.stop_complete) == 0); /* started, not waited for */
    pierhead_stop_report r;
    memset(&r, 0, sizeof r);
    OK(pierhead_server_stop(srv, 1000, &r)); /* waits for the stop to complete */
    CHECK(r.complete == 1);
    pierhead_stats st = {.struct_size = sizeof st};
    OK(pierhead_server_stats(srv, &st));
    CHECK(st.state == PIERHEAD_STATE_STOPPED);
    CHECK(pierhead_server_stop(srv, 1000, &r) == PIERHEAD_RESULT_ALREADY_STOPPED);
    pierhead_server_free(srv);
    srv = NULL;
    CHECK(pierhead_server_stop(srv, 1000, &r) == PIERHEAD_RESULT_NULL_PARAMETER);
}

static bool echo_handler(void *user_data, const pierhead_http_request *req,
                         pierhead_http_response *resp) {
    atomic_int *calls = user_data;
    atomic_fetch_add(calls, 1);
    if (strcmp(req->target, "/fail") == 0) return false;
    char header[64] = "";
    for (size_t i = 0; i < req->header_count; i++) {
        const pierhead_header *h = &req->headers[i];
        if (h->name_len == 5 && strncasecmp(h->name, "x-tag", 5) == 0 && h->value_len < 32) {
            memcpy(header, h->value, h->value_len);
            header[h->value_len] = 0;
        }
    }
    if (pierhead_http_response_set_status(resp, 201) != PIERHEAD_RESULT_OK) return false;
    if (pierhead_http_response_add_header(resp, "X-Method", req->method) != PIERHEAD_RESULT_OK)
        return false;
    if (pierhead_http_response_add_header(resp, "X-Tag", header) != PIERHEAD_RESULT_OK)
        return false;
    if (pierhead_http_response_add_header(resp, "X-Bad", "a\r\nInjected: 1") !=
        PIERHEAD_RESULT_INVALID_PARAMETER)
        return false;
    return pierhead_http_response_set_body(resp, req->body, req->body_len) == PIERHEAD_RESULT_OK;
}

static void test_http_routes_and_handler(void) {
    atomic_int calls = 0;
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    const char *text = "static body\n";
    OK(pierhead_config_add_static_route(cfg, "GET", "/static", false, 200, "text/plain",
                                 (const uint8_t *)text, strlen(text)));
    OK(pierhead_config_add_handler_route(cfg, NULL, "/", true, echo_handler, &calls, NULL));
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);
    char out[4096];
    http_exchange(port, "GET /static HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(out, "\r\n\r\nstatic body\n") != NULL);
    http_exchange(port,
                  "PUT /echo HTTP/1.1\r\nHost: t\r\nX-Tag: c-side\r\nConnection: close\r\n"
                  "Content-Length: 9\r\n\r\nfrom C!!!",
                  out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 201 Created\r\n", 22) == 0);
    CHECK(strstr(out, "X-Method: PUT\r\n") != NULL);
    CHECK(strstr(out, "X-Tag: c-side\r\n") != NULL);
    CHECK(strstr(out, "Injected") == NULL);
    CHECK(strstr(out, "\r\n\r\nfrom C!!!") != NULL);
    http_exchange(port, "GET /fail HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 500 ", 13) == 0);
    CHECK(atomic_load(&calls) == 2);
    pierhead_stats st = {.struct_size = sizeof st};
    OK(pierhead_server_stats(srv, &st));
    CHECK(st.handler_errors == 1 && st.requests == 3);
    pierhead_server_free(srv);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The full route builder: matchers, a use count, faults, and route changes on a
 * running server. */
static void test_route_builder_and_runtime_routes(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    pierhead_route *route = NULL;
    CHECK(pierhead_route_new("GET", NULL, &route) == PIERHEAD_RESULT_NULL_PARAMETER);
    OK(pierhead_route_new("GET", "/api/", &route));
    OK(pierhead_route_set_prefix(route));
    OK(pierhead_route_match_header(route, "X-Key", "k1"));
    OK(pierhead_route_respond(route, 200, "text/plain", (const uint8_t *)"keyed\n", 6));
    OK(pierhead_config_add_route(cfg, route));
    pierhead_route_free(route);
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);
    char out[2048];
    http_exchange(port, "GET /api/v1 HTTP/1.1\r\nHost: t\r\nX-Key: k1\r\nConnection: close\r\n\r\n", out,
                  sizeof out);
    CHECK(strstr(out, "\r\n\r\nkeyed\n") != NULL);
    http_exchange(port, "GET /api/v1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0);

    /* Insert-at: a route put before the keyed one answers in its place; a
     * position past the end changes nothing and names the parameter. */
    OK(pierhead_route_new("GET", "/api/v1", &route));
    OK(pierhead_route_respond(route, 200, "text/plain", (const uint8_t *)"first\n", 6));
    CHECK(pierhead_server_insert_route(srv, 2, route, NULL) == PIERHEAD_RESULT_INVALID_PARAMETER);
    char why[256];
    OK(pierhead_last_error_message(why, sizeof why, NULL));
    CHECK(strstr(why, "`position`") != NULL);
    CHECK(pierhead_server_insert_route(srv, 0, NULL, NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_server_insert_route(NULL, 0, route, NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    uint64_t first = 0;
    OK(pierhead_server_insert_route(srv, 0, route, &first));
    pierhead_route_free(route);
    http_exchange(port, "GET /api/v1 HTTP/1.1\r\nHost: t\r\nX-Key: k1\r\nConnection: close\r\n\r\n", out,
                  sizeof out);
    CHECK(strstr(out, "\r\n\r\nfirst\n") != NULL);
    OK(pierhead_server_remove_route(srv, first));
    http_exchange(port, "GET /api/v1 HTTP/1.1\r\nHost: t\r\nX-Key: k1\r\nConnection: close\r\n\r\n", out,
                  sizeof out);
    CHECK(strstr(out, "\r\n\r\nkeyed\n") != NULL);

    /* A once-only, delayed route added while running. */
    OK(pierhead_route_new(NULL, "/once", &route));
    OK(pierhead_route_respond(route, 202, NULL, (const uint8_t *)"late", 4));
    OK(pierhead_route_set_uses(route, 1));
    OK(pierhead_route_set_fault(route, PIERHEAD_FAULT_DELAY, 150, 0));
    uint64_t id = 0;
    OK(pierhead_server_add_route(srv, route, &id));
    double t0 = now_ms();
    http_exchange(port, "POST /once HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                  out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 202 ", 13) == 0 && now_ms() - t0 >= 150);
    http_exchange(port, "GET /once HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0); /* used up: falls through */
    uint64_t hits = 0;
    OK(pierhead_server_route_hits(srv, id, &hits));
    CHECK(hits == 1);

    /* A reset fault, then remove and clear. */
    OK(pierhead_route_set_uses(route, 5));
    OK(pierhead_route_set_fault(route, PIERHEAD_FAULT_RESET, 0, 0));
    uint64_t id2 = 0;
    OK(pierhead_server_add_route(srv, route, &id2));
    int fd = connect_to(port);
    CHECK(fd >= 0);
    const char *req = "GET /once HTTP/1.1\r\nHost: t\r\n\r\n";
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    char buf[16];
    CHECK(read(fd, buf, sizeof buf) < 0 && errno == ECONNRESET);
    close(fd);
    OK(pierhead_server_remove_route(srv, id2));
    CHECK(pierhead_server_remove_route(srv, id2) == PIERHEAD_RESULT_INVALID_PARAMETER);
    OK(pierhead_route_set_uses(route, 0)); /* accepted here, rejected when added */
    CHECK(pierhead_server_add_route(srv, route, NULL) == PIERHEAD_RESULT_INVALID_PARAMETER);
    char msg[256];
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "route.uses") != NULL);
    pierhead_route_free(route);
    OK(pierhead_server_clear_routes(srv));
    http_exchange(port, "GET /api/v1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strstr(out, "\r\n\r\nhello\n") != NULL); /* no routes: the fixed response */
    pierhead_server_free(srv);
}

static void test_start_stop_cycles(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_workers(cfg, 2));
    for (int i = 0; i < 200; i++) {
        pierhead_server *srv = start(cfg);
        CHECK(srv != NULL);
        pierhead_stop_report r;
        OK(pierhead_server_stop(srv, 100, &r));
        pierhead_server_free(srv);
    }
    pierhead_config_free(cfg);
}

/* With SIGPIPE at its default action (which kills the process), clients that
 * reset the connection while a large response is being written must not kill
 * the host. */
static void test_sigpipe_default_survives_disconnects(void) {
    signal(SIGPIPE, SIG_DFL);
    size_t big = 4 << 20;
    uint8_t *body = malloc(big);
    CHECK(body != NULL);
    memset(body, 'z', big);
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_add_static_route(cfg, "GET", "/big", false, 200, NULL, body, big));
    free(body);
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);
    for (int i = 0; i < 20; i++) {
        int fd = connect_to(port);
        CHECK(fd >= 0);
        const char *req = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
        CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
        char buf[1024];
        CHECK(read(fd, buf, sizeof buf) > 0);
        struct linger lg = {1, 0}; /* close with RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    sleep_ms(50);
    char out[512];
    http_exchange(port, "GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0);
    pierhead_server_free(srv);
}

/* Reads exactly n bytes (or fails). */
static int read_exact(int fd, unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

/* A frame: the 16-byte header (magic, version, type, length; big-endian), then
   `len` bytes of payload. */
static size_t frame(unsigned char *out, uint32_t type, const void *payload, uint32_t len) {
    uint32_t h[4] = {htonl(0xDEADBEEFu), htonl(1), htonl(type), htonl(len)};
    memcpy(out, h, sizeof h);
    memcpy(out + 16, payload, len);
    return 16 + len;
}

static void count_rooms(void *user_data, const char *room, uint64_t members) {
    uint64_t *total = user_data;
    if (strcmp(room, "lobby") == 0) *total += members;
}

static void test_frame_rooms_and_publish(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_FRAME));
    OK(pierhead_config_set_workers(cfg, 2));
    OK(pierhead_config_set_max_frame_bytes(cfg, 4096));
    OK(pierhead_config_set_slow_consumer(cfg, PIERHEAD_SLOW_CONSUMER_DROP_OLDEST));
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);
    int fds[3];
    unsigned char buf[256];
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to(port);
        CHECK(fds[i] >= 0);
        unsigned char join[] = {0x01, 'l', 'o', 'b', 'b', 'y'};
        size_t n = frame(buf, 1, join, sizeof join);
        CHECK(write(fds[i], buf, n) == (ssize_t)n);
        CHECK(read_exact(fds[i], buf, 16 + 6) == 0); /* JOINED lobby */
        CHECK(buf[16] == 0x06 && memcmp(buf + 17, "lobby", 5) == 0);
    }
    uint64_t members = 0;
    OK(pierhead_server_rooms(srv, count_rooms, &members));
    CHECK(members == 3);

    pierhead_publish_report rep;
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    OK(pierhead_server_publish(srv, "lobby", (const uint8_t *)"from C", 6, &rep));
    CHECK(rep.delivered == 3 && rep.dropped == 0 && rep.disconnected == 0);
    for (int i = 0; i < 3; i++) {
        CHECK(read_exact(fds[i], buf, 16 + 6) == 0);
        CHECK(memcmp(buf + 16, "from C", 6) == 0);
    }
    /* A member's data frame reaches the others, not itself. */
    size_t n = frame(buf, 2, "hey", 3);
    CHECK(write(fds[0], buf, n) == (ssize_t)n);
    CHECK(read_exact(fds[1], buf, 19) == 0 && memcmp(buf + 16, "hey", 3) == 0);
    CHECK(read_exact(fds[2], buf, 19) == 0 && memcmp(buf + 16, "hey", 3) == 0);

    /* Refused publishes say why. */
    CHECK(pierhead_server_publish(srv, "", (const uint8_t *)"x", 1, NULL) ==
          PIERHEAD_RESULT_INVALID_PARAMETER);
    static uint8_t big[5000];
    CHECK(pierhead_server_publish(srv, "lobby", big, sizeof big, NULL) ==
          PIERHEAD_RESULT_INVALID_PARAMETER);
    char msg[256];
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "max_frame_bytes") != NULL);
    OK(pierhead_server_publish(srv, "nobody", NULL, 0, NULL));

    /* A delivery is counted once the frame is handed to the kernel whole: just
       after the write, so a client may read it a moment before it is counted. */
    pierhead_stats st;
    for (int i = 0; i < 400; i++) {
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        OK(pierhead_server_stats(srv, &st));
        if (st.deliveries == 5) break;
        sleep_ms(5);
    }
    CHECK(st.rooms == 1 && st.members == 3 && st.broadcasts == 2 && st.deliveries == 5);
    CHECK(st.frames_dropped == 0);

    for (int i = 0; i < 3; i++) close(fds[i]);
    pierhead_stop_report r;
    OK(pierhead_server_stop(srv, 1000, &r));
    pierhead_server_free(srv);
}

static pierhead_server *start_frame_server(const char *backplane) {
    pierhead_config *cfg = NULL;
    if (pierhead_config_new(&cfg) != PIERHEAD_RESULT_OK) return NULL;
    pierhead_server *srv = NULL;
    if (pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_FRAME) == PIERHEAD_RESULT_OK &&
        pierhead_config_set_workers(cfg, 2) == PIERHEAD_RESULT_OK &&
        pierhead_config_set_backplane(cfg, backplane) == PIERHEAD_RESULT_OK)
        srv = start(cfg);
    pierhead_config_free(cfg);
    return srv;
}

static pierhead_stats stats_of(pierhead_server *srv) {
    pierhead_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    pierhead_server_stats(srv, &st);
    return st;
}

/* Waits up to 10 s for the backplane link to reach `state`. */
static bool wait_backplane(pierhead_server *srv, pierhead_backplane_state state) {
    for (int i = 0; i < 1000; i++) {
        if (stats_of(srv).backplane_state == (uint64_t)state) return true;
        sleep_ms(10);
    }
    return false;
}

/* Two servers share a room through the Redis that scripts/test-c.sh started (its
   port in PIERHEAD_TEST_REDIS_PORT): a publish on one reaches a member on the
   other; an unreachable broker is reported, with its error text. */
static void test_backplane(void) {
    const char *port = getenv("PIERHEAD_TEST_REDIS_PORT");
    if (port == NULL) {
        printf("test_backplane: SKIPPED (PIERHEAD_TEST_REDIS_PORT is not set; "
               "scripts/test-c.sh starts a redis-server and sets it)\n");
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%s", port);

    /* A malformed URL is refused at start, naming the field. */
    CHECK(start_frame_server("localhost:6379") == NULL);
    char msg[256];
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`backplane`") != NULL);

    pierhead_server *a = start_frame_server(url);
    pierhead_server *b = start_frame_server(url);
    CHECK(a != NULL && b != NULL);
    CHECK(wait_backplane(a, PIERHEAD_BACKPLANE_CONNECTED));
    CHECK(wait_backplane(b, PIERHEAD_BACKPLANE_CONNECTED));
    uint16_t bport = 0;
    OK(pierhead_server_port(b, &bport));
    int fd = connect_to(bport);
    CHECK(fd >= 0);
    unsigned char buf[256];
    unsigned char join[] = {0x01, 'l', 'o', 'b', 'b', 'y'};
    size_t n = frame(buf, 1, join, sizeof join);
    CHECK(write(fd, buf, n) == (ssize_t)n);
    CHECK(read_exact(fd, buf, 16 + 6) == 0); /* JOINED: B is subscribed */
    CHECK(buf[16] == 0x06);

    pierhead_publish_report rep;
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    OK(pierhead_server_publish(a, "lobby", (const uint8_t *)"across", 6, &rep));
    CHECK(rep.delivered == 0 && rep.forwarded == 1); /* no member on A; sent on */
    CHECK(read_exact(fd, buf, 16 + 6) == 0);
    CHECK(memcmp(buf + 16, "across", 6) == 0);
    pierhead_stats sb = stats_of(b);
    CHECK(sb.backplane_received == 1 && sb.backplane_subscriptions == 1);
    CHECK(sb.backplane_outages == 0 && sb.backplane_unpublished == 0 && sb.backplane_unconfirmed == 0);
    size_t len = 99;
    OK(pierhead_server_backplane_error(a, msg, sizeof msg, &len));
    CHECK(len == 0 && msg[0] == 0);
    close(fd);

    /* Nothing listens on port 1: the link is down, start did not wait, and the
       error says why. A server without a backplane says NONE. */
    pierhead_server *c = start_frame_server("redis://127.0.0.1:1");
    CHECK(c != NULL);
    CHECK(wait_backplane(c, PIERHEAD_BACKPLANE_DOWN));
    CHECK(stats_of(c).backplane_outages == 1);
    OK(pierhead_server_backplane_error(c, msg, sizeof msg, &len));
    CHECK(strstr(msg, "connect") != NULL && len == strlen(msg));
    CHECK(pierhead_server_backplane_error(c, msg, 4, NULL) == PIERHEAD_RESULT_BUFFER_TOO_SMALL);
    CHECK(stats_of(a).backplane_published >= 1);

    pierhead_stop_report r;
    OK(pierhead_server_stop(a, 1000, &r));
    CHECK(stats_of(a).backplane_state == PIERHEAD_BACKPLANE_STOPPED);
    OK(pierhead_server_stop(b, 1000, &r));
    OK(pierhead_server_stop(c, 1000, &r));
    pierhead_server_free(a);
    pierhead_server_free(b);
    pierhead_server_free(c);
}

/* A black hole on 127.0.0.1 (its port in *port), or -1: a listening socket
 * nobody accepts from. The kernel completes connections into its backlog and
 * takes their bytes; nothing is ever answered. */
static int black_hole(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* The load generator from C, against a server of this process. */
static void test_bench(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_workers(cfg, 1));
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
    const char *headers[] = {"X-From: C"};

    pierhead_bench_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.target = url;
    o.connections = 4;
    o.requests = 300;
    o.headers = headers;
    o.header_count = 1;
    pierhead_bench_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    OK(pierhead_bench_run(&o, &r));
    CHECK(r.requests == 300 && r.sent == 300);
    CHECK(r.errors_connect + r.errors_read + r.errors_write + r.errors_timeout + r.errors_status +
              r.errors_framing == 0);
    CHECK(r.latency_p50_us > 0 && r.latency_p50_us <= r.latency_p99_us && r.latency_p99_us <= r.latency_max_us);
    CHECK(r.requests_per_sec > 0 && r.uncorrected_p99_us == 0);

    /* Open loop. */
    o.requests = 0;
    o.duration_ms = 500;
    o.rate = 1000;
    OK(pierhead_bench_run(&o, &r));
    /* 500 are due. Never more (the schedule caps them: a rate or a duration read
     * in the wrong unit sends far more, or runs far longer); fewer when the machine
     * stalls the generator (answers still in flight at the end are not counted, as
     * in wrk): valgrind beside other work sent 72 of them in one CI run. The Rust
     * loadgen tests hold the rate to 2.5%; this checks rate and duration reach the
     * engine in the right units. */
    if (r.requests < 1 || r.sent > 510 || r.sent < r.requests)
        fprintf(stderr, "open loop: %llu answers, %llu sent\n", (unsigned long long)r.requests,
                (unsigned long long)r.sent);
    CHECK(r.requests >= 1 && r.sent <= 510 && r.sent >= r.requests);
    CHECK(r.uncorrected_p99_us > 0);

    /* A bad option names its field; out is left alone. */
    o.threads = 8; /* more threads than the 4 connections */
    r.requests = 12345;
    CHECK(pierhead_bench_run(&o, &r) == PIERHEAD_RESULT_INVALID_CONFIG);
    char msg[256];
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`threads`") != NULL);
    CHECK(r.requests == 12345);
    o.threads = 0;
    o.target = "not a target";
    CHECK(pierhead_bench_run(&o, &r) == PIERHEAD_RESULT_INVALID_CONFIG);
    CHECK(pierhead_bench_run(NULL, &r) == PIERHEAD_RESULT_NULL_PARAMETER);

    /* An older caller's shorter result struct gets only what fits. */
    o.target = url;
    o.rate = 0;
    o.requests = 10;
    pierhead_bench_result small;
    memset(&small, 0xAB, sizeof small);
    small.struct_size = (uint32_t)offsetof(pierhead_bench_result, bytes_sent);
    OK(pierhead_bench_run(&o, &small));
    CHECK(small.requests == 10);
    unsigned char *raw = (unsigned char *)&small;
    CHECK(raw[offsetof(pierhead_bench_result, bytes_sent)] == 0xAB);

    /* A black hole (issue 22): a listening socket nobody accepts from, so
     * connections are made and requests taken, and nothing is ever answered.
     * The run measured nothing: its own result code, the message says why and
     * what it counted, out is left alone. */
    uint16_t hole_port = 0;
    int hole = black_hole(&hole_port);
    CHECK(hole >= 0);
    char hole_url[64], hole_hostport[64];
    snprintf(hole_url, sizeof hole_url, "http://127.0.0.1:%u/", hole_port);
    o.target = hole_url;
    o.requests = 0;
    o.connections = 2;
    o.duration_ms = 1000;
    o.timeout_ms = 200;
    r.requests = 12345;
    CHECK(pierhead_bench_run(&o, &r) == PIERHEAD_RESULT_NOTHING_MEASURED);
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    if (strstr(msg, "measured nothing: not one answer") == NULL) fprintf(stderr, "black hole, http: %s\n", msg);
    CHECK(strstr(msg, "measured nothing: not one answer") != NULL && strstr(msg, "timeout") != NULL);
    CHECK(r.requests == 12345);
    CHECK(strcmp(pierhead_result_str(PIERHEAD_RESULT_NOTHING_MEASURED),
                 "the run measured nothing (no right answer)") == 0);
    close(hole);
    hole = black_hole(&hole_port);
    CHECK(hole >= 0);
    snprintf(hole_hostport, sizeof hole_hostport, "127.0.0.1:%u", hole_port);
    o.protocol = PIERHEAD_BENCH_FRAME;
    o.target = hole_hostport;
    CHECK(pierhead_bench_run(&o, &r) == PIERHEAD_RESULT_NOTHING_MEASURED);
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    if (strstr(msg, "no member ever got JOINED") == NULL) fprintf(stderr, "black hole, frame: %s\n", msg);
    CHECK(strstr(msg, "measured nothing: no member ever got JOINED in room `bench`") != NULL);
    close(hole);

    pierhead_stop_report rep;
    OK(pierhead_server_stop(srv, 1000, &rep));
    pierhead_server_free(srv);
}

/* Stats as Prometheus text, from the endpoint and from the call. */
static void test_metrics(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_metrics(cfg, "127.0.0.1:0"));
    uint16_t port = 0, mport = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);
    OK(pierhead_server_metrics_port(srv, &mport));
    CHECK(mport != 0 && mport != port);
    char resp[8192];
    CHECK(http_exchange(port, "GET / HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n", resp, sizeof resp) > 0);
    CHECK(http_exchange(mport, "GET /metrics HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n", resp,
                        sizeof resp) > 0);
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(resp, "pierhead_requests_total 1\n") != NULL);
    size_t len = 12345;
    char tiny[8];
    CHECK(pierhead_server_metrics_text(srv, tiny, sizeof tiny, &len) == PIERHEAD_RESULT_BUFFER_TOO_SMALL);
    CHECK(len == 12345); /* nothing written on failure */
    char *text = malloc(PIERHEAD_METRICS_TEXT_MAX);
    CHECK(text != NULL);
    OK(pierhead_server_metrics_text(srv, text, PIERHEAD_METRICS_TEXT_MAX, &len));
    CHECK(len == strlen(text) && strstr(text, "# TYPE pierhead_connections_active gauge") != NULL);
    free(text);
    pierhead_stop_report rep;
    OK(pierhead_server_stop(srv, 1000, &rep));
    pierhead_server_free(srv);

    /* Off: the port call says so. */
    OK(pierhead_config_new(&cfg));
    srv = start(cfg);
    pierhead_config_free(cfg);
    CHECK(srv != NULL);
    CHECK(pierhead_server_metrics_port(srv, &mport) == PIERHEAD_RESULT_INVALID_PARAMETER);
    pierhead_server_free(srv);
}


/* Streamed answers (pieces, pauses, server-sent events, a cut), seeded chaos
 * predicted by its seed, connect-phase faults switched live, and connection reuse. */
static void test_streaming_chaos_and_connect_faults(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_request_log(cfg, 1000));
    pierhead_route *route = NULL;
    OK(pierhead_route_new("GET", "/events", &route));
    CHECK(pierhead_route_stream_pause(route, 10) == PIERHEAD_RESULT_INVALID_PARAMETER); /* no begin */
    OK(pierhead_route_stream_begin(route, 200, "text/event-stream"));
    OK(pierhead_route_stream_sse(route, "1", NULL, "hello", 0));
    OK(pierhead_route_stream_sse(route, "2", "update", "later", 150));
    OK(pierhead_route_stream_send(route, (const uint8_t *)": tail\n\n", 8));
    OK(pierhead_config_add_route(cfg, route));
    pierhead_route_free(route);
    OK(pierhead_route_new("GET", "/cut", &route));
    OK(pierhead_route_stream_begin(route, 200, NULL));
    OK(pierhead_route_stream_send(route, (const uint8_t *)"part", 4));
    OK(pierhead_route_stream_end(route, PIERHEAD_STREAM_CUT));
    OK(pierhead_config_add_route(cfg, route));
    pierhead_route_free(route);
    pierhead_route *flaky = NULL;
    OK(pierhead_route_new("GET", "/flaky", &flaky));
    OK(pierhead_route_respond(flaky, 200, NULL, (const uint8_t *)"ok", 2));
    OK(pierhead_route_add_chaos(flaky, 77, 0.4, PIERHEAD_FAULT_RESET, 0, 0));
    CHECK(pierhead_route_add_chaos(flaky, 77, 0.7, PIERHEAD_FAULT_RESET, 0, 0) ==
          PIERHEAD_RESULT_INVALID_PARAMETER); /* 1.1 in all */
    OK(pierhead_config_add_route(cfg, flaky));
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);

    char out[4096];
    double t0 = now_ms();
    http_exchange(port, "GET /events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(now_ms() - t0 >= 150);
    CHECK(strstr(out, "Transfer-Encoding: chunked\r\n") != NULL);
    CHECK(strstr(out, "Content-Type: text/event-stream\r\n") != NULL);
    CHECK(strstr(out, "id: 1\ndata: hello\n\n") != NULL);
    CHECK(strstr(out, "id: 2\nevent: update\ndata: later\n\n") != NULL);
    CHECK(strstr(out, "\r\n0\r\n\r\n") != NULL); /* the body ended properly */
    http_exchange(port, "GET /cut HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof out);
    CHECK(strstr(out, "4\r\npart\r\n") != NULL && strstr(out, "0\r\n\r\n") == NULL);

    /* Chaos: each answer is what the seed says. */
    for (uint64_t n = 1; n <= 20; n++) {
        pierhead_fault want = PIERHEAD_FAULT_NONE;
        OK(pierhead_route_chaos_decide(flaky, n, &want));
        size_t got = http_exchange(port, "GET /flaky HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out,
                                   sizeof out);
        CHECK((want == PIERHEAD_FAULT_RESET) == (got == 0));
    }
    pierhead_route_free(flaky);

    /* Connect-phase faults. */
    OK(pierhead_server_set_connect_fault(srv, PIERHEAD_CONNECT_REFUSE, 0));
    CHECK(connect_to(port) < 0 && errno == ECONNREFUSED);
    OK(pierhead_server_set_connect_fault(srv, PIERHEAD_CONNECT_DELAY, 200));
    t0 = now_ms();
    http_exchange(port, "GET /cut HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof out);
    CHECK(now_ms() - t0 >= 200 && strstr(out, "part") != NULL);
    OK(pierhead_server_set_connect_fault(srv, PIERHEAD_CONNECT_CLOSE, 0));
    CHECK(http_exchange(port, "GET /cut HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof out) == 0);
    OK(pierhead_server_set_connect_fault(srv, PIERHEAD_CONNECT_NORMAL, 0));

    /* The unmatched status, changed while running. */
    http_exchange(port, "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 404 ", 13) == 0);
    OK(pierhead_server_set_unmatched_status(srv, 503));
    http_exchange(port, "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strncmp(out, "HTTP/1.1 503 ", 13) == 0);
    CHECK(pierhead_server_set_unmatched_status(srv, 42) == PIERHEAD_RESULT_INVALID_PARAMETER);

    /* Three requests on one connection: reused. */
    int fd = connect_to(port);
    CHECK(fd >= 0);
    const char *req = "GET /events HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 3; i++) {
        CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
        size_t got = 0;
        while (got + 1 < sizeof out) { /* up to the end of this chunked body */
            ssize_t n = read(fd, out + got, sizeof out - 1 - got);
            if (n <= 0) break;
            got += (size_t)n;
            out[got] = 0;
            if (strstr(out, "\r\n0\r\n\r\n") != NULL) break;
        }
        CHECK(strstr(out, "\r\n0\r\n\r\n") != NULL);
    }
    close(fd);
    pierhead_connections c;
    memset(&c, 0, sizeof c);
    CHECK(pierhead_server_connections(srv, &c) == PIERHEAD_RESULT_INVALID_PARAMETER); /* no size */
    c.struct_size = sizeof c;
    OK(pierhead_server_connections(srv, &c));
    CHECK(c.max_requests_per_connection == 3);
    CHECK(c.requests >= 25 && c.connections >= 20);
    CHECK(c.closed_by_server >= 1);
    pierhead_server_free(srv);
}

/* Values no enum of the API has. A C enum parameter can hold any int, so every
 * enum crosses as int32_t and is checked: a typo or a stale value from the host
 * must be an error, never a crash or a silently different setting. */
static const int32_t out_of_range[] = {-1, 99, INT32_MAX, INT32_MIN};

/* True when `r` rejects `value` for `param`: PIERHEAD_RESULT_INVALID_PARAMETER,
 * and the last error names the parameter and the value. */
static bool rejects(pierhead_result r, const char *param, int32_t value) {
    char msg[1024] = "", want_param[64], want_value[64];
    if (r != PIERHEAD_RESULT_INVALID_PARAMETER ||
        pierhead_last_error_message(msg, sizeof msg, NULL) != PIERHEAD_RESULT_OK)
        return false;
    snprintf(want_param, sizeof want_param, "`%s`", param);
    snprintf(want_value, sizeof want_value, ": %ld is not", (long)value);
    if (strstr(msg, want_param) == NULL || strstr(msg, want_value) == NULL) {
        fprintf(stderr, "last error for `%s` = %ld: %s\n", param, (long)value, msg);
        return false;
    }
    return true;
}

/* GET `path` with Connection: close; the whole answer into out. */
static size_t get(uint16_t port, const char *path, char *out, size_t cap) {
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    return http_exchange(port, req, out, cap);
}

/* Every export that takes an enum, with values outside it: INVALID_PARAMETER,
 * nothing written, and the object works as before (config, route, server, bench
 * options). */
static void test_out_of_range_enums(void) {
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        int32_t v = out_of_range[i];
        CHECK(strcmp(pierhead_result_str(v), "unknown result") == 0);

        /* Config setters: the config keeps its previous value and still starts. */
        pierhead_config *cfg = NULL;
        OK(pierhead_config_new(&cfg));
        OK(pierhead_config_set_workers(cfg, 1));
        OK(pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_ECHO));
        CHECK(rejects(pierhead_config_set_protocol(cfg, v), "protocol", v));
        CHECK(rejects(pierhead_config_set_slow_consumer(cfg, v), "policy", v));
        CHECK(rejects(pierhead_config_set_tls_bad_cert(cfg, v), "bad", v));
        CHECK(rejects(pierhead_config_set_tls_fault(cfg, v), "fault", v));
        OK(pierhead_config_set_slow_consumer(cfg, PIERHEAD_SLOW_CONSUMER_DROP_NEWEST));
        uint16_t port = 0;
        pierhead_server *srv = start_from(cfg, &port);
        CHECK(srv != NULL);
        /* A running server's connect fault: rejected, the server serves on. */
        CHECK(rejects(pierhead_server_set_connect_fault(srv, v, 0), "fault", v));
        int fd = connect_to(port);
        CHECK(fd >= 0);
        char buf[8] = {0};
        CHECK(write(fd, "ping", 4) == 4); /* still echo, still plain TCP */
        CHECK(read(fd, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0);
        close(fd);
        OK(pierhead_server_set_connect_fault(srv, PIERHEAD_CONNECT_NORMAL, 0));
        pierhead_server_free(srv);

        /* The route builder: faults, chaos and the end of a stream. */
        OK(pierhead_config_new(&cfg));
        OK(pierhead_config_set_workers(cfg, 1));
        pierhead_route *route = NULL;
        OK(pierhead_route_new("GET", "/r", &route));
        OK(pierhead_route_respond(route, 200, NULL, (const uint8_t *)"ok", 2));
        CHECK(rejects(pierhead_route_set_fault(route, v, 10, 10), "fault", v));
        CHECK(rejects(pierhead_route_add_chaos(route, 7, 1.0, v, 0, 0), "fault", v));
        pierhead_fault decided = PIERHEAD_FAULT_RESET;
        OK(pierhead_route_chaos_decide(route, 1, &decided));
        CHECK(decided == PIERHEAD_FAULT_NONE); /* no chaos was added */
        OK(pierhead_route_set_fault(route, PIERHEAD_FAULT_NONE, 0, 0));
        OK(pierhead_config_add_route(cfg, route));
        pierhead_route_free(route);
        OK(pierhead_route_new("GET", "/s", &route));
        OK(pierhead_route_stream_begin(route, 200, NULL));
        OK(pierhead_route_stream_send(route, (const uint8_t *)"part", 4));
        CHECK(rejects(pierhead_route_stream_end(route, v), "how", v));
        OK(pierhead_route_stream_send(route, (const uint8_t *)"more", 4));
        OK(pierhead_config_add_route(cfg, route));
        pierhead_route_free(route);
        srv = start_from(cfg, &port);
        CHECK(srv != NULL);
        char out[2048];
        get(port, "/r", out, sizeof out);
        CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 && strstr(out, "\r\n\r\nok") != NULL);
        get(port, "/s", out, sizeof out);
        CHECK(strstr(out, "4\r\npart\r\n4\r\nmore\r\n0\r\n\r\n") != NULL); /* not cut */

        /* Bench options: the result is left alone, the options work once fixed. */
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/r", port);
        pierhead_bench_options o;
        memset(&o, 0, sizeof o);
        o.struct_size = sizeof o;
        o.target = url;
        o.connections = 1;
        o.requests = 5;
        o.protocol = v;
        pierhead_bench_result r, before;
        memset(&r, 0xAB, sizeof r);
        r.struct_size = sizeof r;
        memcpy(&before, &r, sizeof r);
        CHECK(rejects(pierhead_bench_run(&o, &r), "protocol", v));
        CHECK(memcmp(&r, &before, sizeof r) == 0);
        o.protocol = PIERHEAD_BENCH_HTTP;
        OK(pierhead_bench_run(&o, &r));
        CHECK(r.requests == 5 && r.errors_status == 0);
        pierhead_server_free(srv);
    }
}

/* Server-sent events from C: the text/event-stream default when no content type
 * is given (as Python's Response.sse and Rust's Sse), data split on CR, LF and
 * CRLF, and an id or event name with a line break refused. */
/* A WebSocket server from C: the handshake (checked against RFC 6455's example
   key), a masked text message echoed unmasked, a room member hearing a host
   publish as a binary message, a message over max_message_bytes closed with 1009,
   and the ws-only options range-checked. */
static void test_websocket(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_WS));
    OK(pierhead_config_set_max_message_bytes(cfg, 100));
    OK(pierhead_config_set_ws_deflate(cfg, false));
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);

    const char *hs_echo =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    int fd = connect_to(port);
    CHECK(fd >= 0);
    CHECK(write(fd, hs_echo, strlen(hs_echo)) == (ssize_t)strlen(hs_echo));
    char head[512] = {0};
    size_t n = 0;
    while (n < sizeof head - 1 && !(n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)) {
        CHECK(read(fd, head + n, 1) == 1);
        n++;
    }
    CHECK(strncmp(head, "HTTP/1.1 101 ", 13) == 0);
    CHECK(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);

    /* "hi" masked with 01 02 03 04: 'h'^1, 'i'^2. */
    const unsigned char msg[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    CHECK(write(fd, msg, sizeof msg) == (ssize_t)sizeof msg);
    unsigned char echo[4] = {0};
    CHECK(read_exact(fd, echo, 4) == 0);
    CHECK(echo[0] == 0x81 && echo[1] == 2 && echo[2] == 'h' && echo[3] == 'i');

    /* 101 bytes: over max_message_bytes, refused from the header with 1009. */
    const unsigned char big[] = {0x82, 0x80 | 101, 0, 0, 0, 0};
    CHECK(write(fd, big, sizeof big) == (ssize_t)sizeof big);
    unsigned char close_frame[4] = {0};
    CHECK(read_exact(fd, close_frame, 4) == 0);
    CHECK(close_frame[0] == 0x88 && close_frame[2] == 0x03 && close_frame[3] == 0xF1);
    close(fd);

    /* A member of room "news" hears a host publish as a binary message. */
    const char *hs_room =
        "GET /news HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    fd = connect_to(port);
    CHECK(fd >= 0);
    CHECK(write(fd, hs_room, strlen(hs_room)) == (ssize_t)strlen(hs_room));
    memset(head, 0, sizeof head);
    n = 0;
    while (n < sizeof head - 1 && !(n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)) {
        CHECK(read(fd, head + n, 1) == 1);
        n++;
    }
    CHECK(strncmp(head, "HTTP/1.1 101 ", 13) == 0);
    pierhead_publish_report rep;
    uint64_t delivered = 0;
    for (int i = 0; i < 400 && delivered == 0; i++) {
        memset(&rep, 0, sizeof rep);
        rep.struct_size = sizeof rep;
        OK(pierhead_server_publish(srv, "news", (const uint8_t *)"extra", 5, &rep));
        delivered = rep.delivered;
        if (delivered == 0) sleep_ms(5);
    }
    CHECK(delivered == 1);
    unsigned char got[7] = {0};
    CHECK(read_exact(fd, got, 7) == 0);
    CHECK(got[0] == 0x82 && got[1] == 5 && memcmp(got + 2, "extra", 5) == 0);
    close(fd);

    pierhead_stop_report r;
    memset(&r, 0, sizeof r);
    OK(pierhead_server_stop(srv, 1000, &r));
    pierhead_server_free(srv);

    /* A bad value is refused at start, naming the field. */
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_WS));
    OK(pierhead_config_set_max_message_bytes(cfg, 0));
    srv = NULL;
    CHECK(pierhead_server_start(cfg, &srv) == PIERHEAD_RESULT_INVALID_CONFIG && srv == NULL);
    char why[256];
    OK(pierhead_last_error_message(why, sizeof why, NULL));
    CHECK(strstr(why, "`max_message_bytes`") != NULL);
    pierhead_config_free(cfg);
}

static void test_sse_from_c(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_workers(cfg, 1));
    pierhead_route *route = NULL;
    OK(pierhead_route_new("GET", "/plain", &route));
    OK(pierhead_route_stream_begin(route, 200, NULL));
    OK(pierhead_route_stream_sse(route, NULL, NULL, "a\rb", 0));
    OK(pierhead_route_stream_sse(route, "7", "tick", "c\r\nd\ne\r", 0));
    char msg[256];
    CHECK(pierhead_route_stream_sse(route, "1\n2", NULL, "x", 0) == PIERHEAD_RESULT_INVALID_PARAMETER);
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`sse.id`") != NULL);
    CHECK(pierhead_route_stream_sse(route, NULL, "a\rdata: injected", "x", 0) ==
          PIERHEAD_RESULT_INVALID_PARAMETER);
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`sse.event`") != NULL);
    OK(pierhead_config_add_route(cfg, route));
    pierhead_route_free(route);
    OK(pierhead_route_new("GET", "/typed", &route));
    OK(pierhead_route_stream_begin(route, 200, "text/event-stream; charset=utf-8"));
    OK(pierhead_route_stream_sse(route, NULL, NULL, "x", 0));
    OK(pierhead_config_add_route(cfg, route));
    pierhead_route_free(route);
    uint16_t port = 0;
    pierhead_server *srv = start_from(cfg, &port);
    CHECK(srv != NULL);

    char out[4096];
    get(port, "/plain", out, sizeof out);
    CHECK(strstr(out, "\r\nContent-Type: text/event-stream\r\n") != NULL);
    CHECK(strstr(out, "\r\nCache-Control: no-cache\r\n") != NULL);
    CHECK(strstr(out, "\r\ndata: a\ndata: b\n\n\r\n") != NULL);
    CHECK(strstr(out, "\r\nid: 7\nevent: tick\ndata: c\ndata: d\ndata: e\ndata: \n\n\r\n") != NULL);
    CHECK(strstr(out, "injected") == NULL && strstr(out, "id: 1") == NULL);
    get(port, "/typed", out, sizeof out);
    const char *ct = strstr(out, "\r\nContent-Type: text/event-stream; charset=utf-8\r\n");
    CHECK(ct != NULL && strstr(ct + 3, "Content-Type") == NULL); /* the given one, once */
    pierhead_server_free(srv);
}

int main(void) {
    test_version();
    test_null_arguments();
    test_invalid_config_names_the_field();
    test_bind_conflict_message();
    test_echo_and_stats();
    test_stats_callback_and_finalizer();
    test_stop_inside_callback_and_double_stop();
    test_http_routes_and_handler();
    test_route_builder_and_runtime_routes();
    test_start_stop_cycles();
    test_sigpipe_default_survives_disconnects();
    test_frame_rooms_and_publish();
    test_backplane();
    test_bench();
    test_metrics();
    test_streaming_chaos_and_connect_faults();
    test_out_of_range_enums();
    test_sse_from_c();
    test_websocket();
    return checks_done("C tests");
}
