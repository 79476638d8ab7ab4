/* C tests of WebSocket routes in the HTTP mock (pierhead_websocket, the handler
 * callback, the message log), compiled with -Wall -Wextra -Wpedantic -Werror and
 * run under AddressSanitizer + UBSan (scripts/test-c.sh). The client is a raw
 * socket speaking RFC 6455 itself: the opening handshake, masked frames out,
 * every frame the server sends read and compared byte for byte. */
#define _GNU_SOURCE /* pthread_getname_np */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pierhead.h"

#define TEXT 0x1
#define BINARY 0x2
#define CLOSE 0x8
#define PING 0x9
#define PONG 0xA

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int read_exact(int fd, unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const unsigned char *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

/* Sends the opening handshake for `target` (RFC 6455's example key, plus the
 * header lines in `extra`) and reads the answer's head into `head`: the
 * connection, or -1. */
static int ws_open(uint16_t port, const char *target, const char *extra, char *head,
                   size_t cap) {
    int fd = connect_to(port);
    if (fd < 0) return -1;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     target, extra ? extra : "");
    size_t got = 0;
    if (n <= 0 || write_all(fd, (const unsigned char *)req, (size_t)n) != 0) goto fail;
    while (got + 1 < cap && !(got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0)) {
        if (read_exact(fd, (unsigned char *)head + got, 1) != 0) goto fail;
        got++;
    }
    head[got] = 0;
    return fd;
fail:
    close(fd);
    return -1;
}

/* A WebSocket that got its 101 with the accept key of RFC 6455's example. */
static int ws_connect(uint16_t port, const char *target, const char *extra, char *head,
                      size_t cap) {
    int fd = ws_open(port, target, extra, head, cap);
    if (fd < 0) return -1;
    if (strncmp(head, "HTTP/1.1 101 ", 13) != 0 ||
        strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") == NULL) {
        fprintf(stderr, "no upgrade for %s:\n%s\n", target, head);
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends one frame as a client must: masked (the key changes per frame). */
static int ws_send(int fd, bool fin, int opcode, const void *data, size_t len) {
    static unsigned char salt = 0;
    unsigned char frame[300];
    size_t h = 0;
    if (len > sizeof frame - 8) return -1;
    frame[h++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        frame[h++] = (unsigned char)(0x80 | len);
    } else {
        frame[h++] = 0x80 | 126;
        frame[h++] = (unsigned char)(len >> 8);
        frame[h++] = (unsigned char)len;
    }
    unsigned char key[4] = {0x37, 0xFA, 0x21, (unsigned char)(0x3D + salt++)};
    memcpy(frame + h, key, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) frame[h + i] = ((const unsigned char *)data)[i] ^ key[i % 4];
    return write_all(fd, frame, h + len);
}

static int ws_text(int fd, const char *s) { return ws_send(fd, true, TEXT, s, strlen(s)); }

/* A close frame from the client: the code big-endian, then the reason. */
static int ws_close(int fd, uint16_t code, const char *reason) {
    unsigned char p[128] = {(unsigned char)(code >> 8), (unsigned char)code};
    size_t n = strlen(reason);
    memcpy(p + 2, reason, n);
    return ws_send(fd, true, CLOSE, p, n + 2);
}

/* One frame from the server, which never masks. */
typedef struct {
    bool fin;
    int opcode;
    size_t len;
    unsigned char data[256];
} frame_t;

static int ws_read(int fd, frame_t *f) {
    unsigned char h[2];
    if (read_exact(fd, h, 2) != 0) return -1;
    if (h[1] & 0x80) return -1; /* a masked frame from a server is wrong */
    f->fin = (h[0] & 0x80) != 0;
    f->opcode = h[0] & 0x0F;
    f->len = h[1] & 0x7F;
    if (f->len == 126) {
        unsigned char x[2];
        if (read_exact(fd, x, 2) != 0) return -1;
        f->len = (size_t)x[0] << 8 | x[1];
    } else if (f->len == 127) {
        return -1; /* nothing here sends 64 KiB */
    }
    if (f->len > sizeof f->data) return -1;
    return read_exact(fd, f->data, f->len);
}

/* The next frame is exactly this one (its bytes shown when it is not). */
static bool expect(int fd, bool fin, int opcode, const void *data, size_t len) {
    frame_t f;
    if (ws_read(fd, &f) != 0) {
        fprintf(stderr, "no frame (wanted opcode %d, %zu bytes)\n", opcode, len);
        return false;
    }
    if (f.fin == fin && f.opcode == opcode && f.len == len && memcmp(f.data, data, len) == 0)
        return true;
    fprintf(stderr, "frame fin=%d opcode=%d len=%zu \"%.*s\", wanted fin=%d opcode=%d len=%zu\n",
            f.fin, f.opcode, f.len, (int)f.len, (const char *)f.data, fin, opcode, len);
    return false;
}

static bool expect_text(int fd, const char *s) { return expect(fd, true, TEXT, s, strlen(s)); }

/* The server closes the TCP connection (read gives 0, not a timeout). */
static bool expect_eof(int fd) {
    unsigned char b;
    ssize_t r;
    while ((r = read(fd, &b, 1)) < 0 && errno == EINTR) {
    }
    return r == 0;
}

/* The last error names `field`. */
static bool names(pierhead_result r, pierhead_result want, const char *field) {
    char msg[512] = "";
    if (r != want || pierhead_last_error_message(msg, sizeof msg, NULL) != PIERHEAD_RESULT_OK)
        return false;
    if (strstr(msg, field) == NULL) {
        fprintf(stderr, "last error without %s: %s\n", field, msg);
        return false;
    }
    return true;
}

/* ---- The C handler ---------------------------------------------------- */

struct handler_state {
    atomic_int calls;
    atomic_int off_handler_thread; /* calls not on a pierhead-h<N> thread */
    atomic_int bad_type_refused;
    atomic_int bad_close_refused;
    atomic_int send_after_close_refused;
    atomic_int finalized;
};

/* Answers "<nth> <type> <target> <subprotocol> <text or byte count>"; "quit":
 * closes with 4001 "bye"; "fail": returns nonzero (the connection gets 1011).
 * Also tries what the reply must refuse. */
static int on_ws_message(void *user_data, const pierhead_ws_peer *peer, int32_t type,
                         const uint8_t *data, size_t len, pierhead_ws_reply *reply) {
    struct handler_state *st = user_data;
    atomic_fetch_add(&st->calls, 1);
    char name[32] = "";
    if (pthread_getname_np(pthread_self(), name, sizeof name) != 0 ||
        strncmp(name, "pierhead-h", 10) != 0)
        atomic_fetch_add(&st->off_handler_thread, 1);
    if (pierhead_ws_reply_send(reply, 99, data, len) == PIERHEAD_RESULT_INVALID_PARAMETER)
        atomic_fetch_add(&st->bad_type_refused, 1);
    if (type == PIERHEAD_WS_TEXT && len == 4 && memcmp(data, "fail", 4) == 0) return 1;
    if (type == PIERHEAD_WS_TEXT && len == 4 && memcmp(data, "quit", 4) == 0) {
        if (pierhead_ws_reply_close(reply, 1005, NULL) == PIERHEAD_RESULT_INVALID_PARAMETER)
            atomic_fetch_add(&st->bad_close_refused, 1);
        if (pierhead_ws_reply_close(reply, 4001, "bye") != PIERHEAD_RESULT_OK) return 1;
        if (pierhead_ws_reply_send(reply, PIERHEAD_WS_TEXT, (const uint8_t *)"late", 4) ==
            PIERHEAD_RESULT_INVALID_PARAMETER)
            atomic_fetch_add(&st->send_after_close_refused, 1);
        return 0;
    }
    char out[200];
    int n;
    if (type == PIERHEAD_WS_TEXT)
        n = snprintf(out, sizeof out, "%llu text %s %s %.*s", (unsigned long long)peer->nth,
                     peer->target, peer->subprotocol ? peer->subprotocol : "-", (int)len,
                     (const char *)data);
    else
        n = snprintf(out, sizeof out, "%llu binary %s %s %zu bytes",
                     (unsigned long long)peer->nth, peer->target,
                     peer->subprotocol ? peer->subprotocol : "-", len);
    if (n < 0 || (size_t)n >= sizeof out) return 1;
    return pierhead_ws_reply_send(reply, PIERHEAD_WS_TEXT, (const uint8_t *)out, (size_t)n) ==
                   PIERHEAD_RESULT_OK
               ? 0
               : 1;
}

static void on_finalize(void *user_data) {
    struct handler_state *st = user_data;
    atomic_fetch_add(&st->finalized, 1);
}

/* ---- The server ------------------------------------------------------- */

/* Adds `ws` as the endpoint of GET `path`, then frees the builder. */
static pierhead_result add(pierhead_config *cfg, const char *path, pierhead_websocket *ws) {
    pierhead_route *route = NULL;
    pierhead_result r = pierhead_route_new("GET", path, &route);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_route_set_websocket(route, ws);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_config_add_route(cfg, route);
    pierhead_route_free(route);
    pierhead_websocket_free(ws);
    return r;
}

static pierhead_server *srv = NULL;
static uint16_t port = 0;
static struct handler_state hstate;

static void test_start_server(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_workers(cfg, 2));
    OK(pierhead_config_set_request_log(cfg, 64));
    OK(pierhead_config_set_ws_deflate(cfg, false));
    pierhead_websocket *ws = NULL;

    OK(pierhead_websocket_new_echo(&ws));
    OK(add(cfg, "/echo", ws));

    OK(pierhead_websocket_new_script(&ws));
    OK(pierhead_websocket_send_on_open(ws, PIERHEAD_WS_TEXT, (const uint8_t *)"welcome", 7));
    OK(pierhead_websocket_send_on_open(ws, PIERHEAD_WS_BINARY, (const uint8_t *)"\0\1\2", 3));
    OK(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_TEXT, (const uint8_t *)"ping", 4,
                                PIERHEAD_WS_TEXT, (const uint8_t *)"pong", 4));
    const char *bye = "{\"op\":\"bye\"}";
    OK(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_JSON, (const uint8_t *)bye, strlen(bye),
                                PIERHEAD_WS_BINARY, (const uint8_t *)"\xff\0", 2));
    /* Two rules with the same match: both replies, in order. */
    OK(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_REGEX, (const uint8_t *)"^n[0-9]+$", 9,
                                PIERHEAD_WS_TEXT, (const uint8_t *)"number", 6));
    OK(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_REGEX, (const uint8_t *)"^n[0-9]+$", 9,
                                PIERHEAD_WS_TEXT, (const uint8_t *)"again", 5));
    OK(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_BINARY, (const uint8_t *)"\1", 1,
                                PIERHEAD_WS_TEXT, (const uint8_t *)"one", 3));
    OK(pierhead_websocket_fault_after(ws, 5, PIERHEAD_WS_FAULT_CLOSE, 4000, "enough"));
    OK(add(cfg, "/script", ws));

    memset(&hstate, 0, sizeof hstate);
    OK(pierhead_websocket_new_handler(on_ws_message, &hstate, on_finalize, &ws));
    OK(pierhead_websocket_add_subprotocol(ws, "chat"));
    OK(add(cfg, "/handler", ws));

    OK(pierhead_websocket_new_echo(&ws));
    OK(pierhead_websocket_set_fragment(ws, 2));
    OK(add(cfg, "/frag", ws));

    OK(pierhead_websocket_new_echo(&ws));
    OK(pierhead_websocket_refuse(ws, 503));
    OK(add(cfg, "/refused", ws));

    OK(pierhead_websocket_new_echo(&ws));
    OK(pierhead_websocket_set_no_pong(ws));
    OK(add(cfg, "/nopong", ws));

    OK(pierhead_websocket_new_echo(&ws));
    OK(pierhead_websocket_set_delay(ws, 5));
    OK(pierhead_websocket_set_drip(ws, 3, 2));
    OK(add(cfg, "/slow", ws));

    OK(pierhead_websocket_new_script(&ws));
    OK(pierhead_websocket_fault_after(ws, 1, PIERHEAD_WS_FAULT_INVALID_UTF8, 0, NULL));
    OK(add(cfg, "/badutf8", ws));

    CHECK(pierhead_server_start(cfg, &srv) == PIERHEAD_RESULT_OK);
    pierhead_config_free(cfg);
    OK(pierhead_server_port(srv, &port));
}

/* Text and binary messages come back as they went, unmasked; a ping gets its pong. */
static void test_echo(void) {
    char head[512];
    int fd = ws_connect(port, "/echo", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(ws_text(fd, "hello") == 0);
    CHECK(expect_text(fd, "hello"));
    CHECK(ws_send(fd, true, BINARY, "\0\xfe\x01", 3) == 0);
    CHECK(expect(fd, true, BINARY, "\0\xfe\x01", 3));
    char big[200];
    memset(big, 'x', sizeof big);
    CHECK(ws_send(fd, true, TEXT, big, sizeof big) == 0); /* a 16-bit length both ways */
    CHECK(expect(fd, true, TEXT, big, sizeof big));
    CHECK(ws_send(fd, true, PING, "p", 1) == 0);
    CHECK(expect(fd, true, PONG, "p", 1));
    CHECK(ws_close(fd, 1000, "done") == 0);
    CHECK(expect(fd, true, CLOSE, "\x03\xe8", 2)); /* 1000 answered */
    CHECK(expect_eof(fd));
    close(fd);

    /* Not a handshake: 426, as the route documents. */
    fd = connect_to(port);
    CHECK(fd >= 0);
    const char *plain = "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    CHECK(write_all(fd, (const unsigned char *)plain, strlen(plain)) == 0);
    char out[64] = "";
    CHECK(read_exact(fd, (unsigned char *)out, 13) == 0);
    CHECK(strncmp(out, "HTTP/1.1 426 ", 13) == 0);
    close(fd);
}

/* On-open messages, then replies by text, JSON, regex (two rules, both sent),
 * binary; a message no rule matches gets nothing; after 5 messages the close
 * (4000 "enough"), which waits for the client's close and then ends. */
static void test_script(void) {
    char head[512];
    int fd = ws_connect(port, "/script", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(expect_text(fd, "welcome"));
    CHECK(expect(fd, true, BINARY, "\0\1\2", 3));
    CHECK(ws_text(fd, "ping") == 0);
    CHECK(expect_text(fd, "pong"));
    CHECK(ws_text(fd, "{ \"op\" : \"bye\" }") == 0); /* other spacing, same JSON */
    CHECK(expect(fd, true, BINARY, "\xff\0", 2));
    CHECK(ws_text(fd, "n42") == 0);
    CHECK(expect_text(fd, "number"));
    CHECK(expect_text(fd, "again"));
    CHECK(ws_send(fd, true, BINARY, "\1", 1) == 0);
    CHECK(expect_text(fd, "one"));
    CHECK(ws_text(fd, "nothing matches") == 0); /* the 5th: no answer, then the close */
    CHECK(expect(fd, true, CLOSE, "\x0f\xa0" "enough", 8)); /* 4000 = 0x0FA0 */
    CHECK(ws_close(fd, 4000, "ok") == 0);
    CHECK(expect_eof(fd));
    close(fd);
}

/* The C handler: the peer (nth, target, subprotocol), text and binary, a close
 * it asks for, a failure (1011, handler_errors), all on handler threads. */
static void test_handler(void) {
    char head[512];
    int fd = ws_connect(port, "/handler?x=1", "Sec-WebSocket-Protocol: other, chat\r\n", head,
                        sizeof head);
    CHECK(fd >= 0);
    CHECK(strstr(head, "\r\nSec-WebSocket-Protocol: chat\r\n") != NULL);
    CHECK(ws_text(fd, "hi") == 0);
    CHECK(expect_text(fd, "1 text /handler?x=1 chat hi"));
    CHECK(ws_send(fd, true, BINARY, "\1\2\3", 3) == 0);
    CHECK(expect_text(fd, "2 binary /handler?x=1 chat 3 bytes"));
    CHECK(ws_text(fd, "quit") == 0);
    CHECK(expect(fd, true, CLOSE, "\x0f\xa1" "bye", 5)); /* 4001, no "late" before it */
    CHECK(ws_close(fd, 4002, "ok") == 0);
    CHECK(expect_eof(fd));
    close(fd);

    pierhead_stats st = {.struct_size = sizeof st};
    OK(pierhead_server_stats(srv, &st));
    uint64_t errors_before = st.handler_errors;
    fd = ws_connect(port, "/handler", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(strstr(head, "Sec-WebSocket-Protocol") == NULL); /* none asked, none agreed */
    CHECK(ws_text(fd, "fail") == 0);
    CHECK(expect(fd, true, CLOSE, "\x03\xf3" "handler failed", 16)); /* 1011 */
    close(fd);
    OK(pierhead_server_stats(srv, &st));
    CHECK(st.handler_errors == errors_before + 1);

    CHECK(atomic_load(&hstate.calls) == 4);
    CHECK(atomic_load(&hstate.off_handler_thread) == 0);
    CHECK(atomic_load(&hstate.bad_type_refused) == 4);
    CHECK(atomic_load(&hstate.bad_close_refused) == 1);
    CHECK(atomic_load(&hstate.send_after_close_refused) == 1);
}

/* fragment(2): a message leaves as frames of at most 2 bytes, continuation
 * frames after the first, FIN on the last. */
static void test_fragment(void) {
    char head[512];
    int fd = ws_connect(port, "/frag", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(ws_text(fd, "abcde") == 0);
    CHECK(expect(fd, false, TEXT, "ab", 2));
    CHECK(expect(fd, false, 0x0, "cd", 2));
    CHECK(expect(fd, true, 0x0, "e", 1));
    CHECK(ws_send(fd, true, BINARY, "\x09\x08\x07", 3) == 0);
    CHECK(expect(fd, false, BINARY, "\x09\x08", 2));
    CHECK(expect(fd, true, 0x0, "\x07", 1));
    close(fd); /* no close frame: the log says so */
}

/* refuse(503): the upgrade is answered 503, no 101. */
static void test_refuse(void) {
    char head[512];
    int fd = ws_open(port, "/refused", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(strncmp(head, "HTTP/1.1 503 ", 13) == 0);
    close(fd);
}

/* no_pong: a ping gets nothing, the next frame is the echo. Delay and drip
 * hold messages back but deliver them whole and in order. An invalid-UTF-8
 * fault sends a text frame that is not UTF-8. */
static void test_no_pong_drip_and_bad_utf8(void) {
    char head[512];
    int fd = ws_connect(port, "/nopong", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(ws_send(fd, true, PING, "p", 1) == 0);
    CHECK(ws_text(fd, "x") == 0);
    CHECK(expect_text(fd, "x"));
    close(fd);

    fd = ws_connect(port, "/slow", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(ws_text(fd, "first") == 0);
    CHECK(ws_text(fd, "second") == 0);
    CHECK(expect_text(fd, "first"));
    CHECK(expect_text(fd, "second"));
    close(fd);

    fd = ws_connect(port, "/badutf8", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(ws_text(fd, "go") == 0);
    const char bad[] = "not \xff\xfe UTF-8";
    CHECK(expect(fd, true, TEXT, bad, sizeof bad - 1));
    close(fd);
}

/* ---- The message log -------------------------------------------------- */

typedef struct {
    char target[64];
    char subprotocol[16];
    uint64_t route_id;
    size_t count;
    int32_t types[8];
    char messages[8][32];
    size_t lens[8];
    uint8_t closed;
    uint16_t close_code;
    char close_reason[32];
    uint16_t server_close_code;
    char server_close_reason[32];
} logged_t;

typedef struct {
    logged_t c[32];
    size_t n;
} log_t;

static void collect(void *user_data, const pierhead_ws_connection *c) {
    log_t *log = user_data;
    if (log->n >= sizeof log->c / sizeof log->c[0]) return;
    logged_t *l = &log->c[log->n++];
    memset(l, 0, sizeof *l);
    snprintf(l->target, sizeof l->target, "%s", c->target);
    snprintf(l->subprotocol, sizeof l->subprotocol, "%s", c->subprotocol ? c->subprotocol : "-");
    l->route_id = c->route_id;
    l->count = c->message_count;
    for (size_t i = 0; i < c->message_count && i < 8; i++) {
        l->types[i] = c->messages[i].message_type;
        l->lens[i] = c->messages[i].len;
        if (c->messages[i].len < sizeof l->messages[i] && c->messages[i].len > 0)
            memcpy(l->messages[i], c->messages[i].data, c->messages[i].len);
    }
    l->closed = c->closed;
    l->close_code = c->close_code;
    snprintf(l->close_reason, sizeof l->close_reason, "%s", c->close_reason);
    CHECK(c->struct_size == sizeof *c);
    l->server_close_code = c->server_close_code;
    snprintf(l->server_close_reason, sizeof l->server_close_reason, "%s",
             c->server_close_reason);
}

static const logged_t *find(const log_t *log, const char *target) {
    for (size_t i = 0; i < log->n; i++)
        if (strcmp(log->c[i].target, target) == 0) return &log->c[i];
    return NULL;
}

/* Every connection of the tests above, with what its client sent and how it
 * closed; a route added at run time has its id. */
static void test_message_log(void) {
    uint64_t late_id = 0;
    pierhead_route *route = NULL;
    pierhead_websocket *ws = NULL;
    OK(pierhead_route_new("GET", "/late", &route));
    OK(pierhead_websocket_new_echo(&ws));
    OK(pierhead_route_set_websocket(route, ws));
    pierhead_websocket_free(ws);
    OK(pierhead_server_add_route(srv, route, &late_id));
    pierhead_route_free(route);
    char head[512];
    int fd = ws_connect(port, "/late", NULL, head, sizeof head);
    CHECK(fd >= 0);
    CHECK(ws_send(fd, true, TEXT, "", 0) == 0); /* an empty message */
    CHECK(expect(fd, true, TEXT, "", 0));
    static log_t log;
    log.n = 0;
    OK(pierhead_server_ws_connections(srv, collect, &log));
    const logged_t *open_one = find(&log, "/late");
    CHECK(open_one != NULL && open_one->closed == 0); /* still open */
    close(fd);

    /* The connections end on the server's side shortly after the client's. */
    bool all_closed = false;
    for (int i = 0; i < 400 && !all_closed; i++) {
        log.n = 0;
        OK(pierhead_server_ws_connections(srv, collect, &log));
        all_closed = log.n == 9;
        for (size_t j = 0; j < log.n; j++) all_closed = all_closed && log.c[j].closed;
        if (!all_closed) sleep_ms(5);
    }
    for (size_t j = 0; j < log.n && !all_closed; j++)
        fprintf(stderr, "logged %s closed=%u\n", log.c[j].target, log.c[j].closed);
    CHECK(all_closed);

    const logged_t *l = find(&log, "/script");
    CHECK(l != NULL && l->count == 5);
    CHECK(l->types[0] == PIERHEAD_WS_TEXT && strcmp(l->messages[0], "ping") == 0);
    CHECK(strcmp(l->messages[1], "{ \"op\" : \"bye\" }") == 0);
    CHECK(strcmp(l->messages[2], "n42") == 0);
    CHECK(l->types[3] == PIERHEAD_WS_BINARY && l->lens[3] == 1 && l->messages[3][0] == 1);
    CHECK(strcmp(l->messages[4], "nothing matches") == 0);
    CHECK(l->close_code == 4000 && strcmp(l->close_reason, "ok") == 0);
    /* The script closed first: its own code and reason. */
    CHECK(l->server_close_code == 4000 && strcmp(l->server_close_reason, "enough") == 0);
    CHECK(strcmp(l->subprotocol, "-") == 0);

    l = find(&log, "/handler?x=1");
    CHECK(l != NULL && l->count == 3 && strcmp(l->subprotocol, "chat") == 0);
    CHECK(strcmp(l->messages[0], "hi") == 0);
    CHECK(l->types[1] == PIERHEAD_WS_BINARY && l->lens[1] == 3 &&
          memcmp(l->messages[1], "\1\2\3", 3) == 0);
    CHECK(strcmp(l->messages[2], "quit") == 0);
    CHECK(l->close_code == 4002 && strcmp(l->close_reason, "ok") == 0);

    l = find(&log, "/handler");
    CHECK(l != NULL && l->count == 1 && strcmp(l->messages[0], "fail") == 0);
    CHECK(l->server_close_code == 1011 && strcmp(l->server_close_reason, "handler failed") == 0);

    l = find(&log, "/echo");
    CHECK(l != NULL && l->count == 3 && strcmp(l->messages[0], "hello") == 0);
    CHECK(l->close_code == 1000 && strcmp(l->close_reason, "done") == 0);
    CHECK(l->server_close_code == 0); /* it only answered the client's close */

    l = find(&log, "/frag");
    CHECK(l != NULL && l->count == 2 && strcmp(l->messages[0], "abcde") == 0);
    CHECK(l->close_code == 0 && strcmp(l->close_reason, "") == 0); /* no close frame */

    l = find(&log, "/late");
    CHECK(l != NULL && l->route_id == late_id && l->count == 1 && l->lens[0] == 0);
    CHECK(find(&log, "/refused") == NULL); /* never upgraded */

    CHECK(pierhead_server_ws_connections(srv, NULL, NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_server_ws_connections(NULL, collect, &log) == PIERHEAD_RESULT_NULL_PARAMETER);
}

static void test_stop_and_finalizer(void) {
    CHECK(atomic_load(&hstate.finalized) == 0); /* the server still holds the handler */
    pierhead_server_free(srv);
    srv = NULL;
    CHECK(atomic_load(&hstate.finalized) == 1);
}

/* ---- Arguments -------------------------------------------------------- */

static const int32_t out_of_range[] = {0, -1, 99, INT32_MAX, INT32_MIN};

/* A bad value is refused with the field named, and leaves the builder as it
 * was: adding it to a route afterwards succeeds. */
static void test_invalid_arguments(void) {
    pierhead_websocket *ws = NULL;
    CHECK(pierhead_websocket_new_echo(NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_websocket_new_room(NULL, &ws) == PIERHEAD_RESULT_NULL_PARAMETER && ws == NULL);
    CHECK(pierhead_websocket_new_handler(NULL, NULL, NULL, &ws) ==
              PIERHEAD_RESULT_NULL_PARAMETER &&
          ws == NULL);
    CHECK(pierhead_websocket_set_no_pong(NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_ws_reply_send(NULL, PIERHEAD_WS_TEXT, NULL, 0) ==
          PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_ws_reply_close(NULL, 1000, NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    pierhead_websocket_free(NULL);

    OK(pierhead_websocket_new_room("lobby", &ws));
    pierhead_websocket_free(ws);
    OK(pierhead_websocket_new_script(&ws));
    const pierhead_result bad = PIERHEAD_RESULT_INVALID_PARAMETER;
    CHECK(names(pierhead_websocket_refuse(ws, 700), bad, "`websocket.refuse`"));
    CHECK(names(pierhead_websocket_refuse(ws, 101), bad, "`websocket.refuse`"));
    CHECK(names(pierhead_websocket_fault_after(ws, 1, PIERHEAD_WS_FAULT_CLOSE, 1005, NULL), bad,
                "`websocket.fault`"));
    char long_reason[130];
    memset(long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = 0;
    CHECK(names(pierhead_websocket_fault_after(ws, 1, PIERHEAD_WS_FAULT_CLOSE, 4000, long_reason),
                bad, "`websocket.fault`"));
    CHECK(names(pierhead_websocket_add_subprotocol(ws, "a b"), bad, "`websocket.subprotocol`"));
    CHECK(names(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_REGEX, (const uint8_t *)"(", 1,
                                         PIERHEAD_WS_TEXT, (const uint8_t *)"x", 1),
                bad, "`websocket.reply`"));
    CHECK(names(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_JSON, (const uint8_t *)"{", 1,
                                         PIERHEAD_WS_TEXT, (const uint8_t *)"x", 1),
                bad, "`websocket.reply`"));
    CHECK(names(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_ANY, NULL, 0, PIERHEAD_WS_TEXT,
                                         (const uint8_t *)"\xff", 1),
                bad, "`websocket.reply`"));
    CHECK(names(pierhead_websocket_send_on_open(ws, PIERHEAD_WS_TEXT, (const uint8_t *)"\xc3", 1),
                bad, "`websocket.send_on_open`"));
    CHECK(names(pierhead_websocket_set_fragment(ws, 0), bad, "`websocket.fragment`"));
    CHECK(names(pierhead_websocket_set_drip(ws, 0, 10), bad, "`websocket.drip`"));
    CHECK(pierhead_websocket_send_on_open(ws, PIERHEAD_WS_BINARY, NULL, 3) ==
          PIERHEAD_RESULT_NULL_PARAMETER);
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        int32_t v = out_of_range[i];
        char value[32];
        snprintf(value, sizeof value, ": %ld is not", (long)v);
        CHECK(names(pierhead_websocket_send_on_open(ws, v, NULL, 0), bad, "`message_type`"));
        CHECK(names(pierhead_websocket_send_on_open(ws, v, NULL, 0), bad, value));
        CHECK(names(pierhead_websocket_reply(ws, v, NULL, 0, PIERHEAD_WS_TEXT, NULL, 0), bad,
                    "`match_kind`"));
        CHECK(names(pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_ANY, NULL, 0, v, NULL, 0), bad,
                    "`message_type`"));
        CHECK(names(pierhead_websocket_fault_after(ws, 1, v, 1000, NULL), bad, "`fault`"));
    }
    /* Still the plain script: a route takes it, a config validates it. */
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    pierhead_route *route = NULL;
    OK(pierhead_route_new("GET", "/v", &route));
    CHECK(pierhead_route_set_websocket(route, NULL) == PIERHEAD_RESULT_NULL_PARAMETER);
    CHECK(pierhead_route_set_websocket(NULL, ws) == PIERHEAD_RESULT_NULL_PARAMETER);
    OK(pierhead_route_set_websocket(route, ws));
    OK(pierhead_config_add_route(cfg, route));
    pierhead_route_free(route);
    pierhead_config_free(cfg);
    pierhead_websocket_free(ws);
}

int main(void) {
    test_invalid_arguments();
    test_start_server();
    if (srv == NULL) return checks_done("WebSocket route tests");
    test_echo();
    test_script();
    test_handler();
    test_fragment();
    test_refuse();
    test_no_pong_drip_and_bad_utf8();
    test_message_log();
    test_stop_and_finalizer();
    return checks_done("WebSocket route tests");
}
