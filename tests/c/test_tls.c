/* TLS from C: a pierhead server of this process with a generated CA
 * (pierhead_config_set_tls_auto), and an OpenSSL client that trusts that CA
 * from memory (pierhead_server_tls_ca_pem) and checks the host name. Keep-alive
 * requests; a session resumed from its ticket, and not when
 * pierhead_config_set_tls_resumption turns it off; an expired certificate refused
 * with X509_V_ERR_CERT_HAS_EXPIRED; a file that is not a certificate named at
 * start. Compiled with -Wall -Wextra
 * -Wpedantic -Werror and run under ASan/UBSan (scripts/test-c.sh). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "check.h"
#include "pierhead.h"


static pierhead_server *tls_server(pierhead_tls_bad_cert bad, bool resumption) {
    pierhead_config *cfg = NULL;
    if (pierhead_config_new(&cfg) != PIERHEAD_RESULT_OK) return NULL;
    pierhead_server *srv = NULL;
    if (pierhead_config_set_workers(cfg, 1) == PIERHEAD_RESULT_OK &&
        pierhead_config_set_tls_auto(cfg, NULL) == PIERHEAD_RESULT_OK &&
        ((int)bad == 0 || pierhead_config_set_tls_bad_cert(cfg, bad) == PIERHEAD_RESULT_OK) &&
        (resumption || pierhead_config_set_tls_resumption(cfg, false) == PIERHEAD_RESULT_OK))
        pierhead_server_start(cfg, &srv);
    pierhead_config_free(cfg);
    return srv;
}

/* An OpenSSL client context trusting the server's generated CA. */
static SSL_CTX *client_ctx(pierhead_server *srv) {
    char pem[4096];
    size_t len = 0;
    if (pierhead_server_tls_ca_pem(srv, pem, sizeof pem, &len) != PIERHEAD_RESULT_OK) return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (ctx == NULL || ca == NULL) return NULL;
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

/* A TLS connection to `srv` checked for host "localhost", offering `session`
   (may be NULL) to resume; NULL if the handshake failed (then *verify gets the
   verification result). */
static SSL *tls_connect(SSL_CTX *ctx, pierhead_server *srv, SSL_SESSION *session, long *verify) {
    uint16_t port = 0;
    pierhead_server_port(srv, &port);
    int fd = connect_to(port);
    if (fd < 0) return NULL;
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (session != NULL) SSL_set_session(ssl, session);
    if (SSL_connect(ssl) != 1) {
        *verify = SSL_get_verify_result(ssl);
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

static void close_tls(SSL *ssl) {
    int fd = SSL_get_fd(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

/* One keep-alive request, its answer checked (`hello`). */
static void get_hello(SSL *ssl) {
    const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    CHECK(SSL_write(ssl, req, (int)strlen(req)) == (int)strlen(req));
    char buf[512] = {0};
    int got = 0, n;
    while (got < (int)sizeof buf - 1 && (n = SSL_read(ssl, buf + got, (int)sizeof buf - 1 - got)) > 0) {
        got += n;
        buf[got] = 0;
        if (strstr(buf, "hello\n")) break;
    }
    CHECK(strncmp(buf, "HTTP/1.1 200 OK", 15) == 0 && strstr(buf, "\r\n\r\nhello\n") != NULL);
}

/* TLS 1.3 and 1.2: the first connection's session (its ticket read before the
   answer) resumes the second, unless resumption is off. */
static void test_session_resumption(bool on) {
    pierhead_server *srv = tls_server(0, on);
    CHECK(srv != NULL);
    const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        SSL_CTX *ctx = client_ctx(srv);
        CHECK(ctx != NULL);
        SSL_CTX_set_min_proto_version(ctx, versions[v]);
        SSL_CTX_set_max_proto_version(ctx, versions[v]);
        long verify = 0;
        SSL *first = tls_connect(ctx, srv, NULL, &verify);
        CHECK(first != NULL);
        get_hello(first);
        SSL_SESSION *session = SSL_get1_session(first);
        CHECK(session != NULL);
        CHECK(SSL_SESSION_is_resumable(session) == (on ? 1 : 0));
        close_tls(first);
        SSL *second = tls_connect(ctx, srv, session, &verify);
        CHECK(second != NULL);
        CHECK(SSL_session_reused(second) == (on ? 1 : 0));
        get_hello(second);
        close_tls(second);
        SSL_SESSION_free(session);
        SSL_CTX_free(ctx);
    }
    pierhead_stop_report r;
    OK(pierhead_server_stop(srv, 1000, &r));
    pierhead_server_free(srv);
}

static void test_https_keep_alive(void) {
    pierhead_server *srv = tls_server(0, true);
    CHECK(srv != NULL);
    SSL_CTX *ctx = client_ctx(srv);
    CHECK(ctx != NULL);
    long verify = 0;
    SSL *ssl = tls_connect(ctx, srv, NULL, &verify);
    CHECK(ssl != NULL);
    CHECK(SSL_get_verify_result(ssl) == X509_V_OK);
    for (int i = 0; i < 3; i++) get_hello(ssl);
    close_tls(ssl);
    pierhead_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    OK(pierhead_server_stats(srv, &st));
    CHECK(st.connections_accepted == 1 && st.requests == 3);
    SSL_CTX_free(ctx);
    pierhead_stop_report r;
    OK(pierhead_server_stop(srv, 1000, &r));
    pierhead_server_free(srv);
}

static void test_expired_certificate_is_refused(void) {
    pierhead_server *srv = tls_server(PIERHEAD_TLS_EXPIRED, true);
    CHECK(srv != NULL);
    SSL_CTX *ctx = client_ctx(srv);
    CHECK(ctx != NULL);
    long verify = 0;
    SSL *ssl = tls_connect(ctx, srv, NULL, &verify);
    CHECK(ssl == NULL);
    CHECK(verify == X509_V_ERR_CERT_HAS_EXPIRED);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    pierhead_server_free(srv);
}

static void test_bad_files_and_no_ca(void) {
    pierhead_config *cfg = NULL;
    OK(pierhead_config_new(&cfg));
    OK(pierhead_config_set_tls_files(cfg, "/no/such/cert.pem", "/no/such/key.pem"));
    pierhead_server *srv = NULL;
    CHECK(pierhead_server_start(cfg, &srv) == PIERHEAD_RESULT_INVALID_CONFIG && srv == NULL);
    char msg[256];
    OK(pierhead_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`tls_cert`") != NULL);
    pierhead_config_free(cfg);
    /* A plain server has no CA to give. */
    OK(pierhead_config_new(&cfg));
    OK(pierhead_server_start(cfg, &srv));
    pierhead_config_free(cfg);
    char pem[16];
    CHECK(pierhead_server_tls_ca_pem(srv, pem, sizeof pem, NULL) == PIERHEAD_RESULT_INVALID_PARAMETER);
    pierhead_server_free(srv);
}

int main(void) {
    test_https_keep_alive();
    test_session_resumption(true);
    test_session_resumption(false);
    test_expired_certificate_is_refused();
    test_bad_files_and_no_ca();
    return checks_done("C TLS tests");
}
