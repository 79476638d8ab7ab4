/* A minimal pierhead server from C: HTTP on a free port, a stats line per second
 * from the stats callback, stop after 3 seconds.
 *   scripts/build-c.sh && export PKG_CONFIG_PATH=$PWD/target/c/lib/pkgconfig
 *   cc examples/c/minimal.c $(pkg-config --cflags --libs pierhead) -o minimal
 *   LD_LIBRARY_PATH=$PWD/target/c/lib ./minimal                                  */
#include <stdio.h>
#include <unistd.h>

#include "pierhead.h"

static void on_stats(void *user_data, const pierhead_stats *s) {
    const char *name = user_data;
    printf("%s: %llu requests, %llu connections open\n", name,
           (unsigned long long)s->requests, (unsigned long long)s->connections_active);
    fflush(stdout);
}

int main(void) {
    pierhead_config *cfg = NULL;
    pierhead_server *srv = NULL;
    pierhead_result r = pierhead_config_new(&cfg);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_config_set_bind(cfg, "127.0.0.1:0");
    if (r == PIERHEAD_RESULT_OK)
        r = pierhead_config_set_stats_callback(cfg, 1000, on_stats, "minimal", NULL);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_server_start(cfg, &srv);
    pierhead_config_free(cfg);
    if (r != PIERHEAD_RESULT_OK) {
        char msg[256] = "";
        pierhead_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "pierhead: %s: %s\n", pierhead_result_str(r), msg);
        return 1;
    }
    uint16_t port = 0;
    pierhead_server_port(srv, &port);
    printf("pierhead %s listening on 127.0.0.1:%u\n", pierhead_version_string(), port);
    fflush(stdout);
    sleep(3);
    pierhead_stop_report rep;
    pierhead_server_stop(srv, 1000, &rep);
    printf("stopped in %llu us\n", (unsigned long long)rep.elapsed_us);
    pierhead_server_free(srv);
    return 0;
}
