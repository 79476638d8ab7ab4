/* HTTPS from C: a pierhead server of this process with a throwaway CA
 * (pierhead_config_set_tls_auto), and an OpenSSL client that trusts that CA, read
 * from memory with pierhead_server_tls_ca_pem, checks the host name and gets "/".
 *
 *   cc examples/c/https.c $(pkg-config --cflags --libs pierhead) -lssl -lcrypto -o https && ./https
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "pierhead.h"

int main(void) {
    pierhead_config *cfg = NULL;
    pierhead_server *srv = NULL;
    pierhead_result r = pierhead_config_new(&cfg);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_config_set_tls_auto(cfg, NULL);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_server_start(cfg, &srv);
    pierhead_config_free(cfg);
    char pem[4096];
    size_t len = 0;
    uint16_t port = 0;
    if (r == PIERHEAD_RESULT_OK) r = pierhead_server_tls_ca_pem(srv, pem, sizeof pem, &len);
    if (r == PIERHEAD_RESULT_OK) r = pierhead_server_port(srv, &port);
    if (r != PIERHEAD_RESULT_OK) {
        fprintf(stderr, "pierhead: %s\n", pierhead_result_str(r));
        return 1;
    }

    /* The client trusts the generated CA, and only it. */
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    BIO_free(bio);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (SSL_connect(ssl) != 1) {
        fprintf(stderr, "handshake failed: %s\n", X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
        return 1;
    }
    printf("%s, %s, certificate %s\n", SSL_get_version(ssl), SSL_get_cipher(ssl),
           SSL_get_verify_result(ssl) == X509_V_OK ? "verified" : "NOT verified");
    const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    SSL_write(ssl, req, (int)strlen(req));
    char buf[512];
    int n, got = 0;
    while (got < (int)sizeof buf - 1 && (n = SSL_read(ssl, buf + got, (int)sizeof buf - 1 - got)) > 0) got += n;
    buf[got] = 0;
    printf("%.*s ... %s", 15, buf, strstr(buf, "\r\n\r\n") ? strstr(buf, "\r\n\r\n") + 4 : "");
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    pierhead_stop_report rep;
    pierhead_server_stop(srv, 1000, &rep);
    pierhead_server_free(srv);
    return 0;
}
