/* An HTTP handler in C: GET /hello?NAME answers "hello, NAME"; a static route
 * answers /health. Serves for 3 seconds on a free port.
 *   cc examples/c/http_handler.c $(pkg-config --cflags --libs pierhead) -o http_handler */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pierhead.h"

/* Runs on a pierhead handler thread. The request is valid during the call only;
 * everything set on the response is copied. */
static bool hello(void *user_data, const pierhead_http_request *req,
                  pierhead_http_response *resp) {
    (void)user_data;
    const char *q = strchr(req->target, '?');
    char body[128];
    int n = snprintf(body, sizeof body, "hello, %s\n", q ? q + 1 : "nobody");
    return pierhead_http_response_add_header(resp, "Content-Type", "text/plain") ==
               PIERHEAD_RESULT_OK &&
           pierhead_http_response_set_body(resp, (const uint8_t *)body, (size_t)n) ==
               PIERHEAD_RESULT_OK;
}

int main(void) {
    pierhead_config *cfg = NULL;
    pierhead_server *srv = NULL;
    const char *ok = "ok\n";
    if (pierhead_config_new(&cfg) != PIERHEAD_RESULT_OK) return 1;
    pierhead_config_add_static_route(cfg, "GET", "/health", false, 200, "text/plain",
                              (const uint8_t *)ok, strlen(ok));
    pierhead_config_add_handler_route(cfg, "GET", "/hello", false, hello, NULL, NULL);
    pierhead_result r = pierhead_server_start(cfg, &srv);
    pierhead_config_free(cfg);
    if (r != PIERHEAD_RESULT_OK) return 1;
    uint16_t port = 0;
    pierhead_server_port(srv, &port);
    printf("try: curl 'http://127.0.0.1:%u/hello?ann'\n", port);
    fflush(stdout);
    sleep(3);
    pierhead_server_free(srv);
    return 0;
}
