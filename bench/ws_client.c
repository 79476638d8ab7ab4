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
   sends its messages compressed, RSV1, as a browser would, and the members
   inflate the broadcasts that arrive compressed) | frame.
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

/* Bytes an echo connection receives per message: ws 2 + 64 (no deflate is
   offered for echo), frame 16 + 64. Fan-out members parse frames instead
   (member_read): a broadcast may arrive compressed. */
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
/* A member: its latest sequence number, the start of a frame that has not all
   arrived yet (`carry`, heap, grown on need), and for wsdeflate its inflater
   (one per member, kept across messages: correct with or without the server's
   context takeover). */
struct member {
    int fd;
    uint64_t last;
    unsigned got, cap;
    unsigned char *carry;
    z_stream *z;
};

#define READ_BUF (1 << 16)

/* The first 8 bytes of an RSV1 message's inflated payload, into *seq (left
   alone if the message is shorter): the payload and the 00 00 ff ff tail the
   sender took off go through the member's z_stream with Z_SYNC_FLUSH. */
static void inflate_seq(struct member *m, const unsigned char *p, size_t n, uint64_t *seq) {
    static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    static unsigned char out[4096];
    if (!m->z) {
        m->z = calloc(1, sizeof *m->z);
        if (!m->z || inflateInit2(m->z, -15) != Z_OK) die("inflateInit2");
    }
    z_stream *z = m->z;
    unsigned char first[8];
    size_t produced = 0;
    for (int part = 0; part < 2; part++) {
        z->next_in = part ? (unsigned char *)tail : (unsigned char *)p;
        z->avail_in = part ? 4 : (uInt)n;
        for (;;) {
            z->next_out = out;
            z->avail_out = sizeof out;
            int rc = inflate(z, Z_SYNC_FLUSH);
            size_t k = sizeof out - z->avail_out;
            if (produced < sizeof first)
                memcpy(first + produced, out, k < sizeof first - produced ? k : sizeof first - produced);
            produced += k;
            if (rc == Z_STREAM_END) { /* a final block: the next message starts afresh */
                inflateReset(z);
                part = 2;
                break;
            }
            if (rc != Z_OK && !(rc == Z_BUF_ERROR && k == 0 && z->avail_in == 0)) {
                fprintf(stderr, "inflate of a broadcast failed (%d)\n", rc);
                exit(1);
            }
            if (z->avail_in == 0 && z->avail_out != 0) break;
        }
    }
    if (produced >= sizeof first) memcpy(seq, first, sizeof first);
}

/* Reads what a member has; `last` becomes the sequence number of its latest
   complete message. ws: frames parsed one by one (2, 4 or 10-byte header,
   unmasked from the server); a plain payload's first 8 bytes are read where
   they lie, an RSV1 one is inflated first; control frames are skipped (close
   ends the run). Fragmented messages are refused (a 64-byte broadcast never is). */
static void member_read(struct member *m) {
    static unsigned char buf[READ_BUF];
    for (;;) {
        if (m->got) memcpy(buf, m->carry, m->got);
        ssize_t k = recv(m->fd, buf + m->got, sizeof buf - m->got, 0);
        if (k == 0) { fprintf(stderr, "a member was closed (slow consumer?)\n"); exit(1); }
        if (k < 0) {
            if (errno == EAGAIN) return;
            die("recv member");
        }
        size_t have = m->got + (size_t)k, at = 0;
        if (proto == FRAME) {
            size_t want = FRAME_HDR + PAYLOAD, whole = have / want * want;
            if (whole) memcpy(&m->last, buf + whole - want + FRAME_HDR, sizeof m->last);
            at = whole;
        } else {
            while (have - at >= 2) {
                const unsigned char *f = buf + at;
                size_t hdr = 2, len = f[1] & 0x7f;
                if (f[1] & 0x80) { fprintf(stderr, "a server frame arrived masked\n"); exit(1); }
                if (len == 126) {
                    hdr = 4;
                    if (have - at < hdr) break;
                    len = (size_t)f[2] << 8 | f[3];
                } else if (len == 127) {
                    hdr = 10;
                    if (have - at < hdr) break;
                    len = 0;
                    for (int i = 2; i < 10; i++) len = len << 8 | f[i];
                }
                if (hdr + len > sizeof buf / 2) {
                    fprintf(stderr, "a frame of %zu bytes: larger than this client reads\n", len);
                    exit(1);
                }
                if (have - at < hdr + len) break;
                unsigned op = f[0] & 0x0f;
                if (op == 0x8) { fprintf(stderr, "a member got a close frame\n"); exit(1); }
                if (op == 0x1 || op == 0x2) {
                    if (!(f[0] & 0x80)) { fprintf(stderr, "a fragmented broadcast: not supported\n"); exit(1); }
                    if (f[0] & 0x40) inflate_seq(m, f + hdr, len, &m->last);
                    else if (len >= sizeof m->last) memcpy(&m->last, f + hdr, sizeof m->last);
                } else if (op < 0x8) {
                    fprintf(stderr, "unexpected frame opcode %u\n", op);
                    exit(1);
                }
                at += hdr + len;
            }
        }
        m->got = (unsigned)(have - at);
        if (m->got > m->cap) {
            m->cap = m->got < 256 ? 256 : m->got;
            m->carry = realloc(m->carry, m->cap);
            if (!m->carry) die("realloc");
        }
        if (m->got) memcpy(m->carry, buf + at, m->got);
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
                member_read(x);
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
                member_read(x);
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
