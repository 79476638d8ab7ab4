/* Rooms from C: a frame server; a member joins over a plain socket, the host
   publishes to its room and lists the rooms. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pierhead.h"

static void print_room(void *user_data, const char *room, uint64_t members) {
    (void)user_data;
    printf("room %s: %llu member(s)\n", room, (unsigned long long)members);
}

/* Connects and sends JOIN <room>; returns once JOINED arrived (the membership
   is in force), or -1. */
static int join(uint16_t port, const char *room) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    unsigned char f[16 + 65];
    uint32_t len = (uint32_t)strlen(room) + 1;
    uint32_t h[4] = {htonl(0xDEADBEEFu), htonl(1), htonl(1), htonl(len)}; /* control */
    memcpy(f, h, 16);
    f[16] = 0x01; /* JOIN */
    memcpy(f + 17, room, len - 1);
    if (write(fd, f, 16 + len) != (ssize_t)(16 + len)) return -1;
    if (recv(fd, f, 16 + len, MSG_WAITALL) != (ssize_t)(16 + len) || f[16] != 0x06) return -1;
    return fd;
}

int main(void) {
    pierhead_config *cfg = NULL;
    pierhead_server *srv = NULL;
    pierhead_result r = pierhead_config_new(&cfg);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_config_set_protocol(cfg, PIERHEAD_PROTOCOL_FRAME);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_config_set_bind(cfg, "127.0.0.1:0");
    if (r == PIERHEAD_RESULT_OK)
        r = pierhead_config_set_slow_consumer(cfg, PIERHEAD_SLOW_CONSUMER_DROP_OLDEST);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_server_start(cfg, &srv);
    pierhead_config_free(cfg);
    if (r != PIERHEAD_RESULT_OK) {
        fprintf(stderr, "pierhead: %s\n", pierhead_result_str(r));
        return 1;
    }
    uint16_t port = 0;
    pierhead_server_port(srv, &port);
    int member = join(port, "lobby");

    pierhead_publish_report rep;
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep; /* the library fills what fits */
    r = pierhead_server_publish(srv, "lobby", (const uint8_t *)"hello", 5, &rep);
    printf("publish: %s, delivered to %llu\n", pierhead_result_str(r),
           (unsigned long long)rep.delivered);
    pierhead_server_rooms(srv, print_room, NULL); /* called here, on this thread */
    unsigned char got[16 + 5];
    if (member >= 0 && recv(member, got, sizeof got, MSG_WAITALL) == (ssize_t)sizeof got)
        printf("member got: %.5s\n", (const char *)got + 16);

    if (member >= 0) close(member);
    pierhead_stop_report stop;
    pierhead_server_stop(srv, 1000, &stop);
    pierhead_server_free(srv);
    return 0;
}
