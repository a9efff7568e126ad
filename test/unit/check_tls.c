/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TLS probes (lib/tls.c through warden_probe_run()): smtps:, imaps:,
 * pop3s:, https: and STARTTLS, against a scripted TLS server in a thread of
 * the test (GnuTLS' server side), with certificates made here (GnuTLS' x509
 * API): a good one, one near its expiry (degraded, the date in the
 * reason), an expired one, a self-signed one, one for another name; a
 * server that stalls in the handshake, one that sends garbage, one that
 * floods under TLS, one that injects bytes after STARTTLS. The parameters
 * reach the probe as an agent's would (warden__probe_set_tls()). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "check_common.h"

#include "agent-int.h"
#include "param-int.h"
#include "probe-int.h"
#include "tls-int.h"
#include "warden/probe.h"

#define MS       WARDEN_USEC_PER_MSEC
#define DAY      (24 * 3600)
#define SLACK_MS 300
#define WAIT_MS  10000

/* ---- certificates --------------------------------------------------------- */

struct cert {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
};

static void make_key(gnutls_x509_privkey_t *key)
{
    ck_assert_int_eq(gnutls_x509_privkey_init(key), 0);
    ck_assert_int_eq(gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                  0),
                     0);
}

/* A certificate valid from..until: a CA (issuer NULL: self-signed), or a
 * server's for dns (and 127.0.0.1 when ip), signed by issuer (NULL:
 * self-signed). */
static void make_cert(struct cert *c, const char *cn, time_t from, time_t until, bool ca,
                      const char *dns, bool ip, const struct cert *issuer)
{
    static unsigned serial = 1;
    make_key(&c->key);
    ck_assert_int_eq(gnutls_x509_crt_init(&c->crt), 0);
    gnutls_x509_crt_t crt = c->crt;
    ck_assert_int_eq(gnutls_x509_crt_set_version(crt, 3), 0);
    unsigned s = serial++;
    ck_assert_int_eq(gnutls_x509_crt_set_serial(crt, &s, sizeof(s)), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_activation_time(crt, from), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(crt, until), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_key(crt, c->key), 0);
    ck_assert_int_eq(
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_basic_constraints(crt, ca, -1), 0);
    if (ca) {
        ck_assert_int_eq(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN), 0);
    } else {
        ck_assert_int_eq(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
        ck_assert_int_eq(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0), 0);
        if (dns) {
            ck_assert_int_eq(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns,
                                                                  strlen(dns), GNUTLS_FSAN_APPEND),
                             0);
        }
        if (ip) {
            unsigned char lo[4] = {127, 0, 0, 1};
            ck_assert_int_eq(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, lo, 4,
                                                                  GNUTLS_FSAN_APPEND),
                             0);
        }
    }
    ck_assert_int_eq(gnutls_x509_crt_sign2(crt, issuer ? issuer->crt : crt,
                                           issuer ? issuer->key : c->key, GNUTLS_DIG_SHA256, 0),
                     0);
}

static void cert_done(struct cert *c)
{
    gnutls_x509_crt_deinit(c->crt);
    gnutls_x509_privkey_deinit(c->key);
}

/* The CA as a PEM file in dir; its path in path. */
static void write_pem(const struct cert *c, const char *path)
{
    gnutls_datum_t pem = {0};
    ck_assert_int_eq(gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_PEM, &pem), 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, pem.data, pem.size), (ssize_t)pem.size);
    close(fd);
    gnutls_free(pem.data);
}

/* ---- the scripted TLS server ---------------------------------------------- */

enum mode {
    M_IMAPS,        /* TLS, then IMAP */
    M_POP3S,        /* TLS, then POP3 */
    M_HTTPS,        /* TLS, then one HTTP answer */
    M_SMTPS,        /* TLS, then SMTP */
    M_STARTTLS,     /* SMTP, EHLO offers STARTTLS, TLS after its 220 */
    M_NO_STARTTLS,  /* SMTP, EHLO offers no STARTTLS */
    M_INJECT,       /* SMTP, bytes in the clear after the 220 to STARTTLS */
    M_STALL,        /* read the ClientHello, then say nothing */
    M_STALL_RECORD, /* the first 5 bytes of a handshake record, then nothing */
    M_PLAIN,        /* an IMAP greeting in the clear on a TLS port */
    M_GARBAGE,      /* bytes that are no protocol at all, for as long as it lasts */
    M_FLOOD,        /* TLS, then endless untagged lines to CAPABILITY */
};

struct server {
    int listen_fd, stop_fd, port;
    pthread_t thread;
    enum mode mode;
    gnutls_certificate_credentials_t cred;
    /* Written by the thread, read after the join. */
    int served;
    bool handshook;
    char sni[256];
    char error[256];
};

struct sconn {
    int fd;
    gnutls_session_t s; /* NULL: in the clear */
    char buf[4096];
    size_t len;
};

static void note(struct server *sv, const char *what)
{
    if (!sv->error[0]) {
        snprintf(sv->error, sizeof(sv->error), "%s", what);
    }
}

static bool say(struct sconn *c, const char *text)
{
    size_t len = strlen(text);
    ssize_t n = c->s ? gnutls_record_send(c->s, text, len) : send(c->fd, text, len, MSG_NOSIGNAL);
    return n == (ssize_t)len;
}

/* A line (without its end) into line; false when the client left. */
static bool hear(struct sconn *c, char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t len = (size_t)(nl - c->buf);
            size_t keep = len > 0 && c->buf[len - 1] == '\r' ? len - 1 : len;
            snprintf(line, size, "%.*s", (int)keep, c->buf);
            memmove(c->buf, nl + 1, c->len - len - 1);
            c->len -= len + 1;
            return true;
        }
        if (c->len == sizeof(c->buf)) {
            return false;
        }
        ssize_t n;
        if (c->s) {
            do {
                n = gnutls_record_recv(c->s, c->buf + c->len, sizeof(c->buf) - c->len);
            } while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
        } else {
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            n = poll(&pfd, 1, WAIT_MS) == 1 ? recv(c->fd, c->buf + c->len, 1, 0) : -1;
        }
        if (n <= 0) {
            return false;
        }
        c->len += (size_t)n;
    }
}

static bool handshake(struct server *sv, struct sconn *c)
{
    ck_assert_int_eq(gnutls_init(&c->s, GNUTLS_SERVER), 0);
    gnutls_set_default_priority(c->s);
    gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, sv->cred);
    gnutls_transport_set_int(c->s, c->fd);
    gnutls_handshake_set_timeout(c->s, WAIT_MS);
    gnutls_record_set_timeout(c->s, WAIT_MS);
    int r;
    do {
        r = gnutls_handshake(c->s);
    } while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) {
        note(sv, gnutls_strerror(r));
        return false;
    }
    sv->handshook = true;
    size_t len = sizeof(sv->sni) - 1;
    unsigned type = 0;
    if (gnutls_server_name_get(c->s, sv->sni, &len, &type, 0) != 0) {
        sv->sni[0] = '\0';
    }
    return true;
}

/* Hold until the client leaves (or WAIT_MS). */
static void hold(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    poll(&pfd, 1, WAIT_MS);
}

static void serve_smtp(struct server *sv, struct sconn *c)
{
    char line[1024];
    if (!say(c, "220 ready\r\n")) {
        return;
    }
    while (hear(c, line, sizeof(line))) {
        if (strncmp(line, "EHLO ", 5) == 0) {
            say(c, c->s                        ? "250-hi\r\n250 SIZE 1000\r\n"
                   : sv->mode == M_NO_STARTTLS ? "250-hi\r\n250 SIZE 1000\r\n"
                                               : "250-hi\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
        } else if (strcmp(line, "STARTTLS") == 0 && !c->s) {
            say(c, sv->mode == M_INJECT ? "220 go\r\n250 injected\r\n" : "220 go\r\n");
            if (sv->mode == M_INJECT || !handshake(sv, c)) {
                hold(c->fd);
                return;
            }
        } else if (strcmp(line, "NOOP") == 0) {
            say(c, "250 ok\r\n");
        } else if (strcmp(line, "QUIT") == 0) {
            say(c, "221 bye\r\n");
            return;
        } else {
            say(c, "502 what\r\n");
        }
    }
}

static void serve_imap(struct server *sv, struct sconn *c)
{
    char line[1024], out[1200];
    if (!say(c, "* OK ready\r\n")) {
        return;
    }
    while (hear(c, line, sizeof(line))) {
        const char *cmd = strchr(line, ' ');
        int tag = cmd ? (int)(cmd - line) : 0;
        cmd = cmd ? cmd + 1 : "";
        if (strcmp(cmd, "CAPABILITY") == 0 && sv->mode == M_FLOOD) {
            /* Endless untagged lines, as fast as the client reads. */
            while (say(c, "* FLOOD FLOOD FLOOD FLOOD\r\n")) {
            }
            return;
        }
        if (strcmp(cmd, "CAPABILITY") == 0) {
            snprintf(out, sizeof(out), "* CAPABILITY IMAP4rev1\r\n%.*s OK done\r\n", tag, line);
        } else if (strcmp(cmd, "LOGOUT") == 0) {
            snprintf(out, sizeof(out), "* BYE\r\n%.*s OK bye\r\n", tag, line);
            say(c, out);
            return;
        } else {
            snprintf(out, sizeof(out), "%.*s OK done\r\n", tag, line);
        }
        say(c, out);
    }
}

static void serve_pop3(struct sconn *c)
{
    char line[1024];
    say(c, "+OK ready\r\n");
    while (hear(c, line, sizeof(line))) {
        if (strcmp(line, "CAPA") == 0) {
            say(c, "+OK\r\nUSER\r\n.\r\n");
        } else if (strcmp(line, "QUIT") == 0) {
            say(c, "+OK bye\r\n");
            return;
        } else {
            say(c, "-ERR what\r\n");
        }
    }
}

static void serve_one(struct server *sv, int fd)
{
    struct sconn c = {.fd = fd};
    char line[1024];
    switch (sv->mode) {
    case M_STALL: {
        char hello[512];
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, WAIT_MS) == 1 && recv(fd, hello, sizeof(hello), 0) > 0) {
            hold(fd);
        }
        break;
    }
    case M_STALL_RECORD:
        send(fd, "\x16\x03\x03\x00\x50", 5, MSG_NOSIGNAL);
        hold(fd);
        break;
    case M_PLAIN:
        send(fd, "* OK IMAP in the clear\r\n", 24, MSG_NOSIGNAL);
        hold(fd);
        break;
    case M_GARBAGE: {
        char junk[4096];
        for (size_t i = 0; i < sizeof(junk); i++) {
            junk[i] = (char)(0x80 | (i * 37));
        }
        warden_usec_t end = warden_deadline_in(3000 * MS);
        while (warden_now() < end && send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0) {
        }
        break;
    }
    case M_STARTTLS:
    case M_NO_STARTTLS:
    case M_INJECT:
        serve_smtp(sv, &c);
        break;
    default:
        if (!handshake(sv, &c)) {
            break;
        }
        if (sv->mode == M_IMAPS || sv->mode == M_FLOOD) {
            serve_imap(sv, &c);
        } else if (sv->mode == M_POP3S) {
            serve_pop3(&c);
        } else if (sv->mode == M_SMTPS) {
            serve_smtp(sv, &c);
        } else if (sv->mode == M_HTTPS) {
            while (hear(&c, line, sizeof(line)) && line[0]) {
            }
            say(&c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
        break;
    }
    if (c.s) {
        gnutls_deinit(c.s);
    }
    close(fd);
}

static void *server_thread(void *arg)
{
    struct server *sv = arg;
    for (;;) {
        struct pollfd pfd[2] = {{.fd = sv->listen_fd, .events = POLLIN},
                                {.fd = sv->stop_fd, .events = POLLIN}};
        int n = poll(pfd, 2, WAIT_MS);
        if (n <= 0 || !(pfd[0].revents & POLLIN)) {
            return NULL;
        }
        int fd = accept4(sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            sv->served++;
            serve_one(sv, fd);
        }
    }
}

static void server_start(struct server *sv, enum mode mode, const struct cert *leaf,
                         const struct cert *ca)
{
    *sv = (struct server){.mode = mode};
    ck_assert_int_eq(gnutls_certificate_allocate_credentials(&sv->cred), 0);
    if (leaf) {
        gnutls_x509_crt_t chain[2] = {leaf->crt, ca ? ca->crt : NULL};
        ck_assert_int_eq(gnutls_certificate_set_x509_key(sv->cred, chain, ca ? 2 : 1, leaf->key),
                         0);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    sv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(sv->listen_fd, 0);
    ck_assert_int_eq(bind(sv->listen_fd, (struct sockaddr *)&sa, len), 0);
    ck_assert_int_eq(listen(sv->listen_fd, 8), 0);
    ck_assert_int_eq(getsockname(sv->listen_fd, (struct sockaddr *)&sa, &len), 0);
    sv->port = ntohs(sa.sin_port);
    sv->stop_fd = eventfd(0, EFD_CLOEXEC);
    ck_assert_int_eq(pthread_create(&sv->thread, NULL, server_thread, sv), 0);
}

static void server_stop(struct server *sv)
{
    uint64_t one = 1;
    ck_assert_int_eq(write(sv->stop_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    ck_assert_int_eq(pthread_join(sv->thread, NULL), 0);
    close(sv->stop_fd);
    close(sv->listen_fd);
    gnutls_certificate_free_credentials(sv->cred);
    /* The thread leaves /proc/self/task a moment after the join. */
    warden_usec_t limit = warden_deadline_in(5000 * MS);
    while (check_count_threads() > check_base_threads) {
        ck_assert(warden_now() < limit);
        poll(NULL, 0, 1);
    }
}

/* ---- the probe, with an agent's parameters -------------------------------- */

struct opts {
    bool verify;
    const char *ca_file;
    const char *warn_days; /* NULL: the default */
    bool check_tls;
};

static const struct warden_param check_tls_param = {"check_tls", WARDEN_PARAM_BOOLEAN, 0, "false",
                                                    "STARTTLS"};

/* Run spec (with %d for the server's port) with the options as an agent's
 * parameters give them; the result, the reason in *ret_reason (may be
 * NULL), the milliseconds it took in *ret_ms. */
static int run_probe(const char *fmt, int port, const struct opts *o, warden_usec_t timeout,
                     char **ret_reason, long long *ret_ms)
{
    const struct warden_param *table[4];
    size_t n = 0;
    for (const struct warden_param *p = warden__agent_common_params; p->name; p++) {
        if (strncmp(p->name, "tls_", 4) == 0) {
            table[n++] = p;
        }
    }
    ck_assert_int_eq(n, 3);
    table[n++] = &check_tls_param;
    setenv("OCF_RESKEY_tls_verify", o->verify ? "true" : "false", 1);
    if (o->ca_file) {
        setenv("OCF_RESKEY_tls_ca_file", o->ca_file, 1);
    } else {
        unsetenv("OCF_RESKEY_tls_ca_file");
    }
    if (o->warn_days) {
        setenv("OCF_RESKEY_tls_warn_days", o->warn_days, 1);
    } else {
        unsetenv("OCF_RESKEY_tls_warn_days");
    }
    setenv("OCF_RESKEY_check_tls", o->check_tls ? "true" : "false", 1);
    warden_params *params = NULL;
    ck_assert_int_eq(warden__params_load(table, n, &params), 0);
    char *why = NULL;
    ck_assert_msg(warden__params_validate(params, &why) == 0, "%s", why ? why : "?");
    /* fmt's "%d" is the port (not a format: the specs are the tests'). */
    const char *at = strstr(fmt, "%d");
    ck_assert_ptr_nonnull(at);
    char spec[256];
    snprintf(spec, sizeof(spec), "%.*s%d%s", (int)(at - fmt), fmt, port, at + 2);
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new(spec, &p), 0);
    ck_assert_int_eq(warden__probe_set_tls(p, params), 0);
    warden__params_free(params);
    struct warden_probe_context ctx = {.size = sizeof(ctx)};
    char *reason = NULL;
    warden_usec_t start = warden_now();
    int r = warden_probe_run(p, &ctx, warden_deadline_in(timeout), &reason);
    if (ret_ms) {
        *ret_ms = check_ms_since(start);
    }
    warden_probe_free(p);
    if (ret_reason) {
        *ret_reason = reason;
    } else {
        free(reason);
    }
    return r;
}

static int probe_ok(const char *fmt, int port, const struct opts *o, char **ret_reason)
{
    return run_probe(fmt, port, o, 5000 * MS, ret_reason, NULL);
}

/* ---- fixtures: a CA, and certificates of it --------------------------------- */

static struct cert ca;
static char ca_path[128], dir[64];

static void pki_setup(void)
{
    time_t now = time(NULL);
    make_cert(&ca, "warden test CA", now - DAY, now + 365 * DAY, true, NULL, false, NULL);
    snprintf(dir, sizeof(dir), "/tmp/check-tls-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
    write_pem(&ca, ca_path);
}

static void pki_teardown(void)
{
    unlink(ca_path);
    rmdir(dir);
    cert_done(&ca);
}

static void expect_reason(const char *reason, const char *want)
{
    ck_assert_msg(reason && strstr(reason, want), "reason '%s' lacks '%s'", reason ? reason : "",
                  want);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_implicit_tls_ok)
{
    pki_setup();
    time_t now = time(NULL);
    struct cert leaf;
    make_cert(&leaf, "localhost", now - DAY, now + 90 * DAY, false, "localhost", true, &ca);
    static const struct {
        enum mode mode;
        const char *spec;
    } cases[] = {
        {M_IMAPS, "imaps:127.0.0.1:%d"},
        {M_POP3S, "pop3s:127.0.0.1:%d"},
        {M_SMTPS, "smtps:127.0.0.1:%d"},
        {M_HTTPS, "https:127.0.0.1:%d/health"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct server sv;
        server_start(&sv, cases[i].mode, &leaf, &ca);
        char *reason = NULL;
        /* Verified against the CA file, by address and by name. */
        struct opts o = {.verify = true, .ca_file = ca_path};
        int r = probe_ok(cases[i].spec, sv.port, &o, &reason);
        ck_assert_msg(r == 0, "%s: %d %s", cases[i].spec, r, reason ? reason : "");
        free(reason);
        server_stop(&sv);
        ck_assert_msg(sv.handshook && !sv.error[0], "%s: %s", cases[i].spec, sv.error);
        /* No SNI for an address (RFC 6066). */
        ck_assert_str_eq(sv.sni, "");
    }
    /* By name: SNI names it; verified against the name. */
    struct server sv;
    server_start(&sv, M_IMAPS, &leaf, &ca);
    struct opts o = {.verify = true, .ca_file = ca_path};
    char *reason = NULL;
    int r = probe_ok("imaps:localhost:%d", sv.port, &o, &reason);
    ck_assert_msg(r == 0, "%d %s", r, reason ? reason : "");
    server_stop(&sv);
    ck_assert_str_eq(sv.sni, "localhost");
    cert_done(&leaf);
    pki_teardown();
}
END_TEST

START_TEST(test_expiring_is_degraded)
{
    pki_setup();
    time_t now = time(NULL);
    time_t until = now + 7 * DAY - 3600;
    struct cert leaf;
    make_cert(&leaf, "localhost", now - DAY, until, false, "localhost", true, &ca);
    char date[16], want[128];
    struct tm tm;
    gmtime_r(&until, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    snprintf(want, sizeof(want), "imaps: certificate of 127.0.0.1 expires %s (in 7 days)", date);
    struct server sv;
    server_start(&sv, M_IMAPS, &leaf, &ca);
    char *reason = NULL;
    struct opts o = {0};
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, &reason), WARDEN_PROBE_DEGRADED);
    ck_assert_str_eq(reason, want);
    free(reason);
    /* Verified too: still degraded, not failed. */
    o = (struct opts){.verify = true, .ca_file = ca_path};
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, NULL), WARDEN_PROBE_DEGRADED);
    /* tls_warn_days below the days left, or 0: no warning. */
    o = (struct opts){.warn_days = "6"};
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, NULL), 0);
    o = (struct opts){.warn_days = "0"};
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, NULL), 0);
    o = (struct opts){.warn_days = "30"};
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, NULL), WARDEN_PROBE_DEGRADED);
    server_stop(&sv);
    /* A probe made from the spec alone warns at 14 days too. */
    server_start(&sv, M_IMAPS, &leaf, &ca);
    char spec[64];
    snprintf(spec, sizeof(spec), "imaps:127.0.0.1:%d", sv.port);
    warden_probe *p = NULL;
    ck_assert_int_eq(warden_probe_new(spec, &p), 0);
    struct warden_probe_context ctx = {.size = sizeof(ctx)};
    reason = NULL;
    ck_assert_int_eq(warden_probe_run(p, &ctx, warden_deadline_in(5000 * MS), &reason),
                     WARDEN_PROBE_DEGRADED);
    ck_assert_str_eq(reason, want);
    free(reason);
    warden_probe_free(p);
    server_stop(&sv);
    /* A wrong answer after the handshake still fails: degraded only when
     * every step went well. */
    server_start(&sv, M_FLOOD, &leaf, &ca);
    o = (struct opts){0};
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, NULL), -EPROTO);
    server_stop(&sv);
    cert_done(&leaf);
    pki_teardown();
}
END_TEST

START_TEST(test_expired_fails)
{
    pki_setup();
    time_t now = time(NULL);
    time_t until = now - 2 * DAY - 60;
    struct cert leaf;
    make_cert(&leaf, "localhost", now - 30 * DAY, until, false, "localhost", true, &ca);
    char date[16], want[128];
    struct tm tm;
    gmtime_r(&until, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    snprintf(want, sizeof(want), "pop3s: certificate of 127.0.0.1 expired %s (2 days ago)", date);
    struct server sv;
    server_start(&sv, M_POP3S, &leaf, &ca);
    char *reason = NULL;
    /* Without verification too. */
    struct opts o = {0};
    ck_assert_int_eq(probe_ok("pop3s:127.0.0.1:%d", sv.port, &o, &reason), -EPROTO);
    ck_assert_str_eq(reason, want);
    free(reason);
    o = (struct opts){.verify = true, .ca_file = ca_path};
    ck_assert_int_eq(probe_ok("pop3s:127.0.0.1:%d", sv.port, &o, &reason), -EPROTO);
    ck_assert_str_eq(reason, want);
    free(reason);
    server_stop(&sv);
    cert_done(&leaf);
    pki_teardown();
}
END_TEST

START_TEST(test_self_signed)
{
    pki_setup();
    time_t now = time(NULL);
    struct cert self;
    make_cert(&self, "localhost", now - DAY, now + 90 * DAY, false, "localhost", true, NULL);
    struct server sv;
    server_start(&sv, M_IMAPS, &self, NULL);
    /* Not verified: taken. */
    struct opts o = {0};
    char *reason = NULL;
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, &reason), 0);
    free(reason);
    /* Verified against another CA: refused. */
    o = (struct opts){.verify = true, .ca_file = ca_path};
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, &reason), -EPROTO);
    ck_assert_str_eq(reason,
                     "imaps: certificate of 127.0.0.1 not trusted: not issued by a trusted CA");
    free(reason);
    /* Against the system's CAs, where there are some: refused too. */
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
        o = (struct opts){.verify = true};
        ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, &reason), -EPROTO);
        expect_reason(reason, "not issued by a trusted CA");
        free(reason);
    }
    server_stop(&sv);
    cert_done(&self);
    pki_teardown();
}
END_TEST

START_TEST(test_wrong_name)
{
    pki_setup();
    time_t now = time(NULL);
    struct cert leaf;
    make_cert(&leaf, "mail.example", now - DAY, now + 90 * DAY, false, "mail.example", false, &ca);
    struct server sv;
    server_start(&sv, M_HTTPS, &leaf, &ca);
    struct opts o = {.verify = true, .ca_file = ca_path};
    char *reason = NULL;
    ck_assert_int_eq(probe_ok("https:localhost:%d/", sv.port, &o, &reason), -EPROTO);
    ck_assert_str_eq(reason,
                     "https: certificate of localhost not trusted: it does not name this host");
    free(reason);
    ck_assert_int_eq(probe_ok("https:127.0.0.1:%d/", sv.port, &o, &reason), -EPROTO);
    expect_reason(reason, "it does not name this host");
    free(reason);
    /* Unverified, the name does not matter. */
    o = (struct opts){0};
    ck_assert_int_eq(probe_ok("https:localhost:%d/", sv.port, &o, NULL), 0);
    server_stop(&sv);
    cert_done(&leaf);
    pki_teardown();
}
END_TEST

START_TEST(test_stall_honours_deadline)
{
    /* A server that takes the ClientHello and says nothing, or begins a
     * record and stops: the probe ends at its deadline, -ETIMEDOUT (hung). */
    enum mode modes[] = {M_STALL, M_STALL_RECORD};
    for (size_t i = 0; i < 2; i++) {
        struct server sv;
        server_start(&sv, modes[i], NULL, NULL);
        struct opts o = {0};
        char *reason = NULL;
        long long ms = 0;
        int r = run_probe("imaps:127.0.0.1:%d", sv.port, &o, 300 * MS, &reason, &ms);
        ck_assert_int_eq(r, -ETIMEDOUT);
        ck_assert_str_eq(reason, "imaps: no TLS handshake within 300ms");
        ck_assert_msg(ms >= 290 && ms < 300 + SLACK_MS, "took %lld ms", ms);
        free(reason);
        server_stop(&sv);
    }
}
END_TEST

START_TEST(test_garbage)
{
    /* Not TLS: a greeting in the clear, or bytes of nothing: fails at once,
     * not at the deadline. */
    enum mode modes[] = {M_PLAIN, M_GARBAGE};
    for (size_t i = 0; i < 2; i++) {
        struct server sv;
        server_start(&sv, modes[i], NULL, NULL);
        struct opts o = {0};
        char *reason = NULL;
        long long ms = 0;
        int r = run_probe("imaps:127.0.0.1:%d", sv.port, &o, 3000 * MS, &reason, &ms);
        ck_assert_msg(r == -EPROTO, "%d %s", r, reason ? reason : "");
        expect_reason(reason, "imaps: ");
        expect_reason(reason, "TLS");
        ck_assert_msg(ms < 1000, "took %lld ms", ms);
        free(reason);
        server_stop(&sv);
    }
}
END_TEST

START_TEST(test_flood_under_tls)
{
    /* A server that keeps sending under TLS is bounded as in the clear. */
    pki_setup();
    time_t now = time(NULL);
    struct cert leaf;
    make_cert(&leaf, "localhost", now - DAY, now + 90 * DAY, false, "localhost", true, &ca);
    struct server sv;
    server_start(&sv, M_FLOOD, &leaf, &ca);
    struct opts o = {0};
    char *reason = NULL;
    long long ms = 0;
    int r = run_probe("imaps:127.0.0.1:%d", sv.port, &o, 2000 * MS, &reason, &ms);
    ck_assert_msg(r == -EPROTO || r == -ETIMEDOUT, "%d", r);
    expect_reason(reason, "CAPABILITY");
    ck_assert_msg(ms < 2000 + SLACK_MS, "took %lld ms", ms);
    free(reason);
    server_stop(&sv);
    cert_done(&leaf);
    pki_teardown();
}
END_TEST

START_TEST(test_starttls)
{
    pki_setup();
    time_t now = time(NULL);
    struct cert leaf;
    make_cert(&leaf, "localhost", now - DAY, now + 90 * DAY, false, "localhost", true, &ca);
    struct server sv;
    server_start(&sv, M_STARTTLS, &leaf, &ca);
    struct opts o = {.verify = true, .ca_file = ca_path, .check_tls = true};
    char *reason = NULL;
    int r = probe_ok("smtp:127.0.0.1:%d", sv.port, &o, &reason);
    ck_assert_msg(r == 0, "%d %s", r, reason ? reason : "");
    server_stop(&sv);
    ck_assert_msg(sv.handshook && !sv.error[0], "%s", sv.error);

    /* Without check_tls, the same server is spoken to in the clear. */
    server_start(&sv, M_STARTTLS, &leaf, &ca);
    o.check_tls = false;
    ck_assert_int_eq(probe_ok("smtp:127.0.0.1:%d", sv.port, &o, NULL), 0);
    server_stop(&sv);
    ck_assert(!sv.handshook);

    /* Not offered: fails, and says so. */
    server_start(&sv, M_NO_STARTTLS, &leaf, &ca);
    o.check_tls = true;
    ck_assert_int_eq(probe_ok("smtp:127.0.0.1:%d", sv.port, &o, &reason), -EPROTO);
    ck_assert_str_eq(reason, "smtp: EHLO does not offer STARTTLS");
    free(reason);
    server_stop(&sv);

    /* Bytes in the clear after the 220: never taken as said under TLS. */
    server_start(&sv, M_INJECT, &leaf, &ca);
    ck_assert_int_eq(probe_ok("smtp:127.0.0.1:%d", sv.port, &o, &reason), -EPROTO);
    ck_assert_str_eq(reason, "smtp: the server sent more after agreeing to STARTTLS");
    free(reason);
    server_stop(&sv);
    cert_done(&leaf);
    pki_teardown();
}
END_TEST

START_TEST(test_ca_file)
{
    /* Read without following a symlink, anywhere on the path; a regular
     * file only. */
    pki_setup();
    char link[128], sub[128], via[160];
    snprintf(link, sizeof(link), "%s/link.pem", dir);
    ck_assert_int_eq(symlink(ca_path, link), 0);
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    ck_assert_int_eq(symlink(dir, sub), 0);
    snprintf(via, sizeof(via), "%s/ca.pem", sub);
    char *pem = NULL;
    size_t len = 0;
    ck_assert_int_eq(warden__tls_read_ca_file(ca_path, &pem, &len), 0);
    ck_assert(len > 0 && strstr(pem, "BEGIN CERTIFICATE"));
    free(pem);
    ck_assert_int_eq(warden__tls_read_ca_file(link, &pem, &len), -ELOOP);
    ck_assert_int_eq(warden__tls_read_ca_file(via, &pem, &len), -ELOOP);
    ck_assert_int_eq(warden__tls_read_ca_file(dir, &pem, &len), -EBADFD);
    ck_assert_int_eq(warden__tls_read_ca_file("/dev/null", &pem, &len), -EBADFD);

    /* The probe says why. */
    time_t now = time(NULL);
    struct cert leaf;
    make_cert(&leaf, "localhost", now - DAY, now + 90 * DAY, false, "localhost", true, &ca);
    struct server sv;
    server_start(&sv, M_IMAPS, &leaf, &ca);
    struct opts o = {.verify = true, .ca_file = link};
    char *reason = NULL;
    ck_assert_int_eq(probe_ok("imaps:127.0.0.1:%d", sv.port, &o, &reason), -ELOOP);
    expect_reason(reason, "imaps: tls_ca_file ");
    expect_reason(reason, "a symlink is on its path");
    free(reason);
    server_stop(&sv);
    unlink(link);
    unlink(sub);
    cert_done(&leaf);
    pki_teardown();
}
END_TEST

START_TEST(test_specs)
{
    static const char *const good[] = {"smtps:h:465", "imaps:[::1]:993", "pop3s:mail.example:995",
                                       "https:h:443", "https:h:443/x?y=1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(warden_probe_check_spec(good[i]) == 0, "%s", good[i]);
    }
    static const char *const bad[] = {"smtps:h", "imaps:h:0", "https:h/x", "pop3s::995"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(warden_probe_check_spec(bad[i]) == -EINVAL, "%s", bad[i]);
    }
    ck_assert(strstr(WARDEN_PROBE_FORMS, "imaps:"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    add_tcase(s, test_specs, 10);
    add_tcase(s, test_implicit_tls_ok, 60);
    add_tcase(s, test_expiring_is_degraded, 60);
    add_tcase(s, test_expired_fails, 60);
    add_tcase(s, test_self_signed, 60);
    add_tcase(s, test_wrong_name, 60);
    add_tcase(s, test_stall_honours_deadline, 30);
    add_tcase(s, test_garbage, 30);
    add_tcase(s, test_flood_under_tls, 30);
    add_tcase(s, test_starttls, 60);
    add_tcase(s, test_ca_file, 60);
    return check_run("check_tls", s);
}
