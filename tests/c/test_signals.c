/* Host signals: a C host that leaves SIGPIPE at its default (terminate) and runs a
 * SIGPROF timer every millisecond, as profilers do, while clients hammer an echo
 * server and vanish mid-exchange. The process must survive (no SIGPIPE from a send
 * to a closed peer, no syscall of the engine broken by EINTR) and the server must
 * go on serving. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

static atomic_long profs = 0;
static void on_prof(int sig) {
    (void)sig;
    atomic_fetch_add(&profs, 1);
}

static uint16_t port;


/* 1,500 exchanges: every third client resets mid-send, every third closes without
 * reading the 64 KiB echo (the server's send then hits a closed peer). */
static void *client(void *arg) {
    long *ok = arg;
    static char buf[64 * 1024];
    for (int i = 0; i < 1500; i++) {
        int fd = connect_to(port);
        if (fd < 0) continue;
        ssize_t n = send(fd, buf, (i % 3 == 2) ? sizeof buf : 16, MSG_NOSIGNAL);
        if (i % 3 == 0) {
            struct linger l = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        } else if (i % 3 == 1 && n == 16) {
            char got[16];
            ssize_t r;
            size_t have = 0;
            while (have < 16 && ((r = recv(fd, got + have, 16 - have, 0)) > 0 || (r < 0 && errno == EINTR)))
                if (r > 0) have += (size_t)r;
            if (have == 16) (*ok)++;
        }
        close(fd);
    }
    return NULL;
}

static void run(void) {
    signal(SIGPIPE, SIG_DFL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_PROF, &every_ms, NULL);

    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_ECHO));
    OK(pierhead_config_set_workers(cfg, 2));
    pierhead_server *srv = NULL;
    OK(pierhead_server_start(cfg, &srv));
    pierhead_config_free(cfg);
    OK(pierhead_server_port(srv, &port));

    pthread_t t[4];
    long ok[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, client, &ok[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    long echoed = ok[0] + ok[1] + ok[2] + ok[3];

    /* Still serving. */
    int fd = connect_to(port);
    CHECK(fd >= 0);
    CHECK(send(fd, "alive", 5, MSG_NOSIGNAL) == 5);
    char got[5];
    size_t have = 0;
    ssize_t r;
    while (have < 5 && ((r = recv(fd, got + have, 5 - have, 0)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0) have += (size_t)r;
    CHECK(have == 5 && memcmp(got, "alive", 5) == 0);
    close(fd);

    pierhead_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    OK(pierhead_server_stats(srv, &stats));
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    printf("figure: signals.sigprof_received = %ld\nfigure: signals.exchanges_echoed = %ld\n"
           "figure: signals.connections_accepted = %llu\n",
           atomic_load(&profs), echoed, (unsigned long long)stats.connections_accepted);
    CHECK(atomic_load(&profs) > 20); /* one per ms of CPU the process used */
    CHECK(echoed > 1500);
    CHECK(stats.connections_accepted >= 5000);
    OK(pierhead_server_stop(srv, 1000, NULL));
    pierhead_server_free(srv);
}

int main(void) {
    run();
    return checks_done("signal tests");
}
