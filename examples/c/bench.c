/* The load generator from C: a server of this process, then 2 seconds of load
 * against it at 5,000 requests per second (open loop), and what it measured.
 *
 *   cc examples/c/bench.c $(pkg-config --cflags --libs pierhead) -o bench && ./bench
 */
#include <stdio.h>
#include <string.h>

#include "pierhead.h"

int main(void) {
    pierhead_config *cfg = NULL;
    pierhead_server *srv = NULL;
    pierhead_result r = pierhead_config_new(&cfg);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_config_set_workers(cfg, 1);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_server_start(cfg, &srv);
    pierhead_config_free(cfg);
    uint16_t port = 0;
    if (r == PIERHEAD_RESULT_OK) r = pierhead_server_port(srv, &port);
    if (r != PIERHEAD_RESULT_OK) {
        fprintf(stderr, "pierhead: %s\n", pierhead_result_str(r));
        return 1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);

    pierhead_bench_options o;
    memset(&o, 0, sizeof o); /* zero: the defaults */
    o.struct_size = sizeof o;
    o.target = url;
    o.connections = 16;
    o.duration_ms = 2000;
    o.rate = 5000;
    pierhead_bench_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    r = pierhead_bench_run(&o, &res);
    if (r != PIERHEAD_RESULT_OK) {
        char msg[256] = "";
        pierhead_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "pierhead: %s: %s\n", pierhead_result_str(r), msg);
        return 1;
    }
    printf("%llu requests (%.0f/s), p50 %llu us, p99 %llu us (from the actual send: %llu us), errors %llu\n",
           (unsigned long long)res.requests, res.requests_per_sec, (unsigned long long)res.latency_p50_us,
           (unsigned long long)res.latency_p99_us, (unsigned long long)res.uncorrected_p99_us,
           (unsigned long long)(res.errors_connect + res.errors_read + res.errors_write +
                                res.errors_timeout + res.errors_status + res.errors_framing));
    pierhead_stop_report rep;
    pierhead_server_stop(srv, 1000, &rep);
    pierhead_server_free(srv);
    return 0;
}
