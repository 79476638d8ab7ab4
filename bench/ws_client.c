/* Measuring client for scripts/bench-ws.sh: WebSocket (RFC 6455, masked client
   frames, permessage-deflate offered on request) and pierhead's frame protocol,
   driven the same way. Single-threaded, epoll.

   ws_client echo PROTO HOST PORT CONNS SECONDS [PID]
       CONNS connections to the echo (ws: path `/`; frame: no room), one 64-byte
       message in flight on each; after a 1 s warm-up, counts round trips for
       SECONDS. Prints `messages seconds server_cpu_ns_per_message total` (the
       server's utime+stime from /proc/PID/stat over the measured part, 0 without
       PID; total: round trips including the warm-up).
   ws_client fanout PROTO HOST PORT MEMBERS ROUNDS
       MEMBERS members of the room `bench` and one publisher (a member too); the
       publisher sends one 64-byte message at a time, the time until the last
       member has it is taken over ROUNDS rounds. Before them: a publish every
       200 ms until every member has had one (a member is in the room only once
       the server's hub has it, a little after its 101 or JOINED), then 5 warm-up
       rounds. Prints `members p50_ms
       p99_ms sent` (sent: messages published, warm-up included).
   ws_client idle PROTO HOST PORT MEMBERS PID
       RSS of PID before and with MEMBERS idle members in the room, 0.5 s after
       the last joined. Prints `members rss_before_kib rss_idle_kib`.

   PROTO: ws | wsdeflate (ws, offering permessage-deflate; the publisher then
   sends its messages compressed, RSV1, as a browser would) | frame.
   Members connect from 127.0.0.1 unless WS_SOURCE names another 127.0.0.x. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define PAYLOAD 64
#define FRAME_HDR 16
#define ROOM "bench"

enum proto { WS, WSDEFLATE, FRAME };
static enum proto proto;
static struct sockaddr_in server;

static void die(const char *what) {
    perror(what);
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long cpu_ticks(const char *pid) {
    char path[64], buf[1024];
    if (!pid) return 0;
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long utime = 0, stime = 0;
    /* After ") ": state(3) ... utime is field 14, stime 15. */
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime);
    return utime + stime;
}

static long rss_kib(const char *pid) {
    char path[64], line[256];
    long kib = 0;
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

static void write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            die("send");
        }
        c += k;
        n -= (size_t)k;
    }
}

static void read_exact(int fd, void *p, size_t n) {
    char *c = p;
    while (n) {
        ssize_t k = recv(fd, c, n, 0);
        if (k == 0) { fprintf(stderr, "closed by the server\n"); exit(1); }
        if (k < 0) {
            if (errno == EINTR) continue;
            die("recv");
        }
        c += k;
        n -= (size_t)k;
    }
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* A frame-protocol frame: type 1 control, 2 data. */
static size_t frame_encode(unsigned char *out, uint32_t type, const void *payload, size_t len) {
    put32(out, 0xDEADBEEF);
    put32(out + 4, 1);
    put32(out + 8, type);
    put32(out + 12, (uint32_t)len);
    memcpy(out + FRAME_HDR, payload, len);
    return FRAME_HDR + len;
}

/* A masked client WebSocket frame (FIN, binary), payload < 126 bytes. */
static size_t ws_encode(unsigned char *out, const unsigned char *payload, size_t len, int rsv1) {
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    out[0] = 0x80 | (rsv1 ? 0x40 : 0) | 0x2;
    out[1] = 0x80 | (unsigned char)len;
    memcpy(out + 2, key, 4);
    for (size_t i = 0; i < len; i++) out[6 + i] = payload[i] ^ key[i & 3];
    return 6 + len;
}

/* Raw deflate of one message, as permessage-deflate sends it (the final empty
   block's 00 00 ff ff taken off), a fresh context each time. */
static size_t deflate_message(const unsigned char *in, size_t len, unsigned char *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_SYNC_FLUSH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n >= 4 ? n - 4 : n;
}

/* Bytes a member receives per message. Broadcasts and echoes of a 64-byte
   message: ws 2 + 64 (sent uncompressed; see the echo note below), frame 16 + 64. */
static size_t message_len(void) { return proto == FRAME ? FRAME_HDR + PAYLOAD : 2 + PAYLOAD; }

/* A connected socket (TCP_NODELAY), from WS_SOURCE if set. */
static int connect_one(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) die("socket");
    const char *src = getenv("WS_SOURCE");
    if (src) {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        inet_pton(AF_INET, src, &a.sin_addr);
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (void *)&a, sizeof a)) die("bind source");
    }
    if (connect(fd, (void *)&server, sizeof server)) die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Opens a connection: the ws handshake on PATH, or the frame protocol's JOIN of
   ROOM (none when `room` is 0); returns once the server has answered. */
static int open_conn(int room) {
    int fd = connect_one();
    if (proto == FRAME) {
        if (room) {
            unsigned char f[64], ctl[1 + sizeof ROOM];
            ctl[0] = 0x01; /* JOIN */
            memcpy(ctl + 1, ROOM, sizeof ROOM - 1);
            size_t n = frame_encode(f, 1, ctl, sizeof ROOM);
            write_all(fd, f, n);
            read_exact(fd, f, FRAME_HDR + sizeof ROOM); /* JOINED <room> */
        }
        return fd;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     room ? ROOM : "",
                     proto == WSDEFLATE ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
    write_all(fd, req, (size_t)n);
    /* The answer's head, and not a byte past it. */
    char head[2048];
    size_t got = 0;
    for (;;) {
        ssize_t k = recv(fd, head + got, sizeof head - 1 - got, MSG_PEEK);
        if (k <= 0) { fprintf(stderr, "handshake: no answer\n"); exit(1); }
        head[got + (size_t)k] = 0;
        char *end = strstr(head, "\r\n\r\n");
        if (end) {
            size_t len = (size_t)(end - head) + 4;
            read_exact(fd, head, len);
            head[len] = 0;
            break;
        }
        read_exact(fd, head + got, (size_t)k);
        got += (size_t)k;
    }
    if (strncmp(head, "HTTP/1.1 101", 12)) { fprintf(stderr, "handshake refused: %.60s\n", head); exit(1); }
    if (proto == WSDEFLATE && !strcasestr(head, "permessage-deflate")) {
        fprintf(stderr, "permessage-deflate was not agreed\n");
        exit(1);
    }
    return fd;
}

/* One outgoing message carrying `seq` in its first 8 bytes. */
static size_t encode_message(unsigned char *out, uint64_t seq) {
    unsigned char p[PAYLOAD];
    memset(p, 'p', sizeof p);
    memcpy(p, &seq, sizeof seq);
    if (proto == FRAME) return frame_encode(out, 2, p, sizeof p);
    if (proto == WSDEFLATE) {
        unsigned char z[128];
        size_t n = deflate_message(p, sizeof p, z, sizeof z);
        return ws_encode(out, z, n, 1);
    }
    return ws_encode(out, p, sizeof p, 0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void set_nonblocking(int fd) {
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) die("fcntl");
}

/* ---- echo ---- */
struct echo_conn { int fd; size_t got; };

static int echo_main(int conns, double seconds, const char *pid) {
    if (proto == WSDEFLATE) { fprintf(stderr, "echo: ws or frame\n"); return 2; }
    int ep = epoll_create1(0);
    struct echo_conn *c = calloc((size_t)conns, sizeof *c);
    unsigned char msg[128];
    size_t msg_len = encode_message(msg, 1), want = message_len();
    for (int i = 0; i < conns; i++) {
        c[i].fd = open_conn(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
        write_all(c[i].fd, msg, msg_len);
    }
    static char buf[1 << 16];
    struct epoll_event evs[256];
    uint64_t count = 0, start_count = 0, t0 = now_ns(), warm_end = t0 + 1000000000u, t_start = 0, end = 0;
    long ticks0 = 0;
    int measuring = 0;
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int e = 0; e < n; e++) {
            struct echo_conn *x = &c[evs[e].data.u32];
            ssize_t k = recv(x->fd, buf, sizeof buf, 0);
            if (k <= 0) { fprintf(stderr, "echo: connection closed\n"); return 1; }
            x->got += (size_t)k;
            while (x->got >= want) {
                x->got -= want;
                count++;
                if (x->got == 0) write_all(x->fd, msg, msg_len);
            }
        }
        uint64_t t = now_ns();
        if (!measuring && t >= warm_end) {
            measuring = 1;
            t_start = t;
            start_count = count;
            ticks0 = cpu_ticks(pid);
            end = t + (uint64_t)(seconds * 1e9);
        } else if (measuring && t >= end) {
            long ticks = cpu_ticks(pid) - ticks0;
            double secs = (double)(t - t_start) / 1e9, msgs = (double)(count - start_count);
            double cpu_ns = (double)ticks / (double)sysconf(_SC_CLK_TCK) * 1e9 / msgs;
            printf("%.0f %.3f %.0f %llu\n", msgs, secs, cpu_ns, (unsigned long long)count);
            return 0;
        }
    }
}

/* ---- fan-out ---- */
struct member { int fd; uint64_t last; unsigned short got; unsigned char carry[128]; };

/* Reads what a member has; `last` becomes the sequence number of its latest
   complete message. */
static void member_read(struct member *m, size_t want) {
    static unsigned char buf[1 << 16];
    for (;;) {
        memcpy(buf, m->carry, m->got);
        ssize_t k = recv(m->fd, buf + m->got, sizeof buf - m->got, 0);
        if (k == 0) { fprintf(stderr, "a member was closed (slow consumer?)\n"); exit(1); }
        if (k < 0) {
            if (errno == EAGAIN) return;
            die("recv member");
        }
        size_t have = m->got + (size_t)k, whole = have / want * want;
        if (whole) {
            unsigned char *last = buf + whole - want;
            size_t hdr = proto == FRAME ? FRAME_HDR : 2;
            if (proto != FRAME && (last[0] & 0x40)) {
                fprintf(stderr, "a broadcast arrived compressed: this client expects it uncompressed\n");
                exit(1);
            }
            memcpy(&m->last, last + hdr, sizeof m->last);
        }
        m->got = (unsigned short)(have - whole);
        memcpy(m->carry, buf + whole, m->got);
    }
}

static int fanout_main(int members, int rounds, int idle, const char *pid) {
    long rss_before = idle ? rss_kib(pid) : 0;
    int ep = epoll_create1(0);
    struct member *m = calloc((size_t)members, sizeof *m);
    for (int i = 0; i < members; i++) {
        m[i].fd = open_conn(1);
        set_nonblocking(m[i].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, m[i].fd, &ev);
    }
    if (idle) {
        usleep(500000);
        printf("%d %ld %ld\n", members, rss_before, rss_kib(pid));
        return 0;
    }
    int pub = open_conn(1);
    size_t want = message_len();
    struct epoll_event evs[1024];
    static unsigned char drain[1 << 16];
    uint64_t seq = 0;
    double *lat = calloc((size_t)rounds, sizeof *lat);
    /* Joining: a member is in the room a little after its 101 (or JOINED), once
       the hub has it; publish every 200 ms until every member has had a message. */
    int joined = 0, tries = 0;
    while (joined < members) {
        unsigned char msg[128];
        size_t len = encode_message(msg, ++seq);
        write_all(pub, msg, len);
        uint64_t deadline = now_ns() + 200000000u;
        while (joined < members && now_ns() < deadline) {
            int n = epoll_wait(ep, evs, 1024, 5);
            for (int e = 0; e < n; e++) {
                struct member *x = &m[evs[e].data.u32];
                int was = x->last > 0;
                member_read(x, want);
                joined += !was && x->last > 0;
            }
        }
        while (recv(pub, drain, sizeof drain, MSG_DONTWAIT) > 0) {}
        if (++tries > 600) { fprintf(stderr, "%d members never joined\n", members - joined); return 1; }
    }
    /* 5 warm-up rounds, then the measured ones. */
    for (int r = -5; r < rounds; r++) {
        unsigned char msg[128];
        size_t len = encode_message(msg, ++seq);
        uint64_t t0 = now_ns(), deadline = t0 + 10000000000u;
        write_all(pub, msg, len);
        int behind = members;
        for (int i = 0; i < members; i++) behind -= m[i].last >= seq;
        while (behind > 0) {
            int n = epoll_wait(ep, evs, 1024, 5);
            for (int e = 0; e < n; e++) {
                struct member *x = &m[evs[e].data.u32];
                int was = x->last >= seq;
                member_read(x, want);
                if (!was && x->last >= seq) behind--;
            }
            if (now_ns() > deadline) {
                fprintf(stderr, "round %d: %d members did not get the message in 10 s\n", r, behind);
                return 1;
            }
        }
        uint64_t t1 = now_ns();
        /* The publisher's own input (nothing is sent back to a sender; drained anyway). */
        while (recv(pub, drain, sizeof drain, MSG_DONTWAIT) > 0) {}
        if (r >= 0) lat[r] = (double)(t1 - t0) / 1e6;
    }
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_double);
    printf("%d %.3f %.3f %llu\n", members, lat[(size_t)((rounds - 1) * 0.5 + 0.5)],
           lat[(size_t)((rounds - 1) * 0.99 + 0.5)], (unsigned long long)seq);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: ws_client echo|fanout|idle ws|wsdeflate|frame HOST PORT N SECONDS|ROUNDS|PID [PID]\n");
        return 2;
    }
    if (!strcmp(argv[2], "ws")) proto = WS;
    else if (!strcmp(argv[2], "wsdeflate")) proto = WSDEFLATE;
    else if (!strcmp(argv[2], "frame")) proto = FRAME;
    else { fprintf(stderr, "unknown protocol %s\n", argv[2]); return 2; }
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)atoi(argv[4]));
    if (inet_pton(AF_INET, argv[3], &server.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
    int n = atoi(argv[5]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(argv[1], "echo")) return echo_main(n, atof(argv[6]), argc > 7 ? argv[7] : NULL);
    if (!strcmp(argv[1], "fanout")) return fanout_main(n, atoi(argv[6]), 0, NULL);
    if (!strcmp(argv[1], "idle")) return fanout_main(n, 0, 1, argv[6]);
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
