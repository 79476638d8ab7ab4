/* What the C tests share: CHECK and OK record a failed check (file, line, the
 * condition) and return from the test; checks_done reports and gives the exit
 * status. Included by one test program each (the counter is per program). */
#ifndef PIERHEAD_TESTS_CHECK_H
#define PIERHEAD_TESTS_CHECK_H

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pierhead.h"

static int failures = 0;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)
#define OK(call) CHECK((call) == PIERHEAD_RESULT_OK)

/* A TCP connection to 127.0.0.1:port with a 10 s receive timeout (retried on
 * EINTR), or -1. */
static inline int connect_to(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* After the tests: "all <what> passed" and 0, or the failure count and 1. */
static int checks_done(const char *what) {
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all %s passed\n", what);
    return 0;
}

#endif
