/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TLS for the protocol probes, with GnuTLS (tls-int.h). Everything runs on
 * the probe's non-blocking socket and under its one deadline: the handshake
 * is driven step by step, each wait a poll() bounded by the deadline, so a
 * server that stalls mid-handshake, or keeps sending, cannot hold the probe
 * past its check_timeout. The bytes go through our own push and pull
 * functions: send() with MSG_NOSIGNAL (a server that has gone is an answer,
 * not a SIGPIPE that kills the keeper) and MSG_DONTWAIT. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "connect-int.h"
#include "tls-int.h"
#include "util-int.h"

struct warden__tls {
    gnutls_session_t session;
    gnutls_certificate_credentials_t cred;
    int fd;
};

/* ---- GnuTLS, loaded on the first TLS probe ---------------------------------
 *
 * libwarden does not link GnuTLS: every agent action that loads libwarden
 * (start, stop, validate-all, meta-data, a deep monitor) would load it and
 * the nine libraries it needs, and only a service whose check speaks TLS
 * uses it. The first TLS probe of a process loads it with dlopen() and
 * looks up each function it calls into a pointer of that function's own type
 * (__typeof__ of the header's declaration), so the compiler still checks
 * every call against GnuTLS' headers; the build uses those headers alone
 * (lib/meson.build), and a call that bypassed the pointers would not link.
 *
 * pthread_once(): one load, whichever thread probes first (the agent's main
 * thread, or the keeper's check thread). RTLD_NODELETE and no dlclose():
 * GnuTLS stays until the process exits, as when it was linked. Then
 * gnutls_global_init(), which GnuTLS says to call before use although it
 * initialises itself when loaded (since 3.3); never deinitialised. */
#define GNUTLS_LIBRARY "libgnutls.so.30"

/* Every function of GnuTLS that this file calls, named once: each gets a
 * pointer sym_<name> of its own type, and a row of the table load() fills
 * them from. */
#define GNUTLS_FUNCTIONS(X)                                                                        \
    X(gnutls_certificate_allocate_credentials)                                                     \
    X(gnutls_certificate_free_credentials)                                                         \
    X(gnutls_certificate_get_peers)                                                                \
    X(gnutls_certificate_set_x509_system_trust)                                                    \
    X(gnutls_certificate_set_x509_trust_mem)                                                       \
    X(gnutls_certificate_verify_peers3)                                                            \
    X(gnutls_credentials_set)                                                                      \
    X(gnutls_deinit)                                                                               \
    X(gnutls_error_is_fatal)                                                                       \
    X(gnutls_global_init)                                                                          \
    X(gnutls_handshake)                                                                            \
    X(gnutls_init)                                                                                 \
    X(gnutls_record_get_direction)                                                                 \
    X(gnutls_record_recv)                                                                          \
    X(gnutls_record_send)                                                                          \
    X(gnutls_server_name_set)                                                                      \
    X(gnutls_set_default_priority)                                                                 \
    X(gnutls_strerror)                                                                             \
    X(gnutls_transport_set_int2)                                                                   \
    X(gnutls_transport_set_pull_function)                                                          \
    X(gnutls_transport_set_pull_timeout_function)                                                  \
    X(gnutls_transport_set_push_function)                                                          \
    X(gnutls_x509_crt_deinit)                                                                      \
    X(gnutls_x509_crt_get_expiration_time)                                                         \
    X(gnutls_x509_crt_import)                                                                      \
    X(gnutls_x509_crt_init)

#define DECLARE(f) static __typeof__(&f) sym_##f;
GNUTLS_FUNCTIONS(DECLARE)
#undef DECLARE

/* A function pointer is written through void **, as POSIX has dlsym() hand
 * functions out as void *. */
static const struct {
    const char *name;
    void **ptr;
} symbols[] = {
// clang-format off
#define ROW(f) {#f, (void **)&sym_##f},
    GNUTLS_FUNCTIONS(ROW)
#undef ROW
    // clang-format on
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
/* Why GnuTLS cannot be used (dlerror()'s words); empty once it is loaded. */
static char load_error[512];
static int init_result; /* gnutls_global_init()'s */

static void load(void)
{
    void *dl = dlopen(GNUTLS_LIBRARY, RTLD_NOW | RTLD_NODELETE);
    if (!dl) {
        const char *e = dlerror();
        snprintf(load_error, sizeof(load_error), "%s", e ? e : "dlopen() failed");
        return;
    }
    for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
        (void)dlerror();
        void *f = dlsym(dl, symbols[i].name);
        if (!f) {
            const char *e = dlerror();
            snprintf(load_error, sizeof(load_error), "%s", e ? e : symbols[i].name);
            return;
        }
        *symbols[i].ptr = f;
    }
    init_result = sym_gnutls_global_init();
}

int warden__tls_load(char **ret_reason)
{
    pthread_once(&load_once, load);
    if (load_error[0]) {
        return warden__set_reason(ret_reason, -ENOPKG, "TLS probes need %s: %s", GNUTLS_LIBRARY,
                                  load_error);
    }
    if (init_result < 0) {
        return warden__set_reason(ret_reason, -EIO, "GnuTLS does not initialise: %s",
                                  sym_gnutls_strerror(init_result));
    }
    return 0;
}

/* ---- the transport ---------------------------------------------------------- */

static ssize_t push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    return send((int)(intptr_t)ptr, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    return recv((int)(intptr_t)ptr, buf, len, MSG_DONTWAIT);
}

/* GnuTLS asks only when a timeout of its own is set (none here: the
 * deadline is ours); answered as its default would be. */
static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    struct pollfd pfd = {.fd = (int)(intptr_t)ptr, .events = POLLIN};
    int n = poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
    return n < 0 ? -1 : n;
}

short warden__tls_events(const struct warden__tls *t)
{
    return sym_gnutls_record_get_direction(t->session) ? POLLOUT : POLLIN;
}

void warden__tls_free(struct warden__tls *t)
{
    if (!t) {
        return;
    }
    if (t->session) {
        sym_gnutls_deinit(t->session);
    }
    if (t->cred) {
        sym_gnutls_certificate_free_credentials(t->cred);
    }
    free(t);
}

static void tls_freep(struct warden__tls **t)
{
    warden__tls_free(*t);
}

ssize_t warden__tls_recv(struct warden__tls *t, void *buf, size_t len, bool *ret_closed)
{
    ssize_t n = sym_gnutls_record_recv(t->session, buf, len);
    if (n > 0) {
        return n;
    }
    if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
        /* A close_notify, or a plain close: the server has gone. */
        *ret_closed = true;
        return -ECONNRESET;
    }
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
        return 0;
    }
    if (n == GNUTLS_E_PUSH_ERROR || n == GNUTLS_E_PULL_ERROR) {
        return -ECONNRESET;
    }
    if (!sym_gnutls_error_is_fatal((int)n)) {
        /* A warning alert, or a renegotiation request we do not take up: no
         * data yet; the next call reads on. */
        return 0;
    }
    return -EPROTO;
}

ssize_t warden__tls_send(struct warden__tls *t, const void *buf, size_t len)
{
    ssize_t n = sym_gnutls_record_send(t->session, buf, len);
    if (n >= 0) {
        return n;
    }
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
        return 0;
    }
    if (n == GNUTLS_E_PUSH_ERROR) {
        return -EPIPE;
    }
    return -EPROTO;
}

/* ---- the CA file ---------------------------------------------------------- */

/* Open path for reading with no symlink anywhere on it (-ELOOP): root
 * reads it, and a directory on the way may be a service user's. One name at
 * a time, each opened relative to the directory before with O_NOFOLLOW
 * (openat2()'s RESOLVE_NO_SYMLINKS says the same in one call, but valgrind
 * 3.19, the tests' checker, does not know it). O_NONBLOCK: a FIFO planted
 * there opens without waiting for a writer, and is refused by the caller. */
static int open_no_symlinks(const char *path)
{
    if (path[0] != '/' || strlen(path) >= 4096) {
        return -EINVAL;
    }
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    _cleanup_close_ int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) {
        return negative_errno();
    }
    char *p = buf;
    for (;;) {
        while (*p == '/') {
            p++;
        }
        if (!*p) {
            return -EISDIR; /* "/", or a trailing slash */
        }
        char *end = p + strcspn(p, "/");
        bool last = !end[strspn(end, "/")];
        *end = '\0';
        int fd = last ? openat(cur, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
                      : warden__open_dir_step(cur, p);
        if (fd < 0) {
            return last ? negative_errno() : fd;
        }
        if (last) {
            return fd;
        }
        close(cur);
        cur = fd;
        p = end + 1;
    }
}

int warden__tls_read_ca_file(const char *path, char **ret, size_t *ret_len)
{
    _cleanup_close_ int fd = open_no_symlinks(path);
    if (fd < 0) {
        return fd;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return negative_errno();
    }
    if (!S_ISREG(st.st_mode)) {
        return -EBADFD;
    }
    if ((uint64_t)st.st_size > WARDEN__TLS_CA_FILE_MAX) {
        return -EFBIG;
    }
    _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        return -ENOMEM;
    }
    size_t len = 0;
    /* Read what fstat() said and no more: a file that grows meanwhile is
     * not read past its size then. */
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return negative_errno();
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    *ret = TAKE_PTR(buf);
    *ret_len = len;
    return 0;
}

static const char *ca_file_error(int r)
{
    switch (r) {
    case -ELOOP:
        return "a symlink is on its path (give the file itself)";
    case -EBADFD:
        return "not a regular file";
    case -EFBIG:
        return "larger than 4 MiB";
    default:
        return strerror(-r);
    }
}

/* The credentials: with verify, the CAs to trust. */
static int credentials(const char *proto, const struct warden__tls_options *o,
                       gnutls_certificate_credentials_t *ret, char **ret_reason)
{
    if (sym_gnutls_certificate_allocate_credentials(ret) < 0) {
        return -ENOMEM;
    }
    if (!o->verify) {
        return 0;
    }
    char shown[WARDEN_ANSWER_SHOWN_SIZE];
    if (o->ca_file) {
        _cleanup_free_ char *pem = NULL;
        size_t len = 0;
        int r = warden__tls_read_ca_file(o->ca_file, &pem, &len);
        if (r < 0) {
            return warden__probe_fail(ret_reason, r, "%s: tls_ca_file %s: %s", proto,
                                      WARDEN_SHOWN(o->ca_file, shown), ca_file_error(r));
        }
        gnutls_datum_t d = {.data = (unsigned char *)pem, .size = (unsigned)len};
        int n = sym_gnutls_certificate_set_x509_trust_mem(*ret, &d, GNUTLS_X509_FMT_PEM);
        if (n <= 0) {
            return warden__probe_fail(ret_reason, -EINVAL,
                                      "%s: tls_ca_file %s: no PEM certificate in it", proto,
                                      WARDEN_SHOWN(o->ca_file, shown));
        }
        return 0;
    }
    int n = sym_gnutls_certificate_set_x509_system_trust(*ret);
    if (n <= 0) {
        return warden__probe_fail(ret_reason, n == 0 ? -ENOENT : -EIO,
                                  "%s: tls_verify: no system CA certificates (%s); install "
                                  "ca-certificates or set tls_ca_file",
                                  proto, n == 0 ? "none found" : sym_gnutls_strerror(n));
    }
    return 0;
}

/* ---- the handshake ---------------------------------------------------------- */

/* Whether host is an address (then no SNI: RFC 6066 allows names only). */
static bool is_address(const char *host)
{
    unsigned char addr[16];
    char v6[64];
    snprintf(v6, sizeof(v6), "%.*s", (int)strcspn(host, "%"), host);
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, v6, addr) == 1;
}

static int handshake(struct warden__tls *t, const char *proto, warden_usec_t start,
                     warden_usec_t deadline, char **ret_reason)
{
    for (;;) {
        if (warden_now() >= deadline) {
            return warden__probe_fail(ret_reason, -ETIMEDOUT, "%s: no TLS handshake within %s",
                                      proto, warden__probe_waited(start, deadline));
        }
        int r = sym_gnutls_handshake(t->session);
        if (r == 0) {
            return 0;
        }
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || !sym_gnutls_error_is_fatal(r)) {
            struct pollfd pfd = {.fd = t->fd, .events = warden__tls_events(t)};
            int n = poll(&pfd, 1, warden__poll_timeout_ms(deadline));
            if (n < 0 && errno != EINTR) {
                return warden__probe_fail(ret_reason, negative_errno(), "%s: TLS handshake: %s",
                                          proto, strerror(errno));
            }
            continue;
        }
        if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR ||
            r == GNUTLS_E_PUSH_ERROR) {
            return warden__probe_fail(ret_reason, -ECONNRESET,
                                      "%s: connection closed during the TLS handshake", proto);
        }
        if (r == GNUTLS_E_UNEXPECTED_PACKET_LENGTH || r == GNUTLS_E_UNSUPPORTED_VERSION_PACKET ||
            r == GNUTLS_E_UNEXPECTED_PACKET) {
            /* What a server that does not speak TLS here gets (a greeting
             * in the clear, say). */
            return warden__probe_fail(ret_reason, -EPROTO,
                                      "%s: no TLS on this port (handshake: %s)", proto,
                                      sym_gnutls_strerror(r));
        }
        return warden__probe_fail(ret_reason, -EPROTO, "%s: TLS handshake failed: %s", proto,
                                  sym_gnutls_strerror(r));
    }
}

/* ---- the certificate -------------------------------------------------------- */

#define DAY (24 * 3600)

static void format_date(time_t t, char buf[static 16])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, 16, "%Y-%m-%d", &tm) == 0) {
        snprintf(buf, 16, "?");
    }
}

/* Why verification failed, in a few words (the certificate's expiry has its
 * own reason, before this). */
static const char *verify_error(unsigned status)
{
    if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
        return "it does not name this host";
    }
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        return "not issued by a trusted CA";
    }
    if (status & GNUTLS_CERT_REVOKED) {
        return "revoked";
    }
    if (status & GNUTLS_CERT_NOT_ACTIVATED) {
        return "not valid yet";
    }
    if (status & GNUTLS_CERT_EXPIRED) {
        return "a certificate of its chain expired";
    }
    if (status & GNUTLS_CERT_INSECURE_ALGORITHM) {
        return "signed with an insecure algorithm";
    }
    if (status & GNUTLS_CERT_SIGNER_NOT_CA) {
        return "its issuer is not a CA";
    }
    return "its signature does not verify";
}

static int certificate(struct warden__tls *t, const char *proto, const char *host,
                       const struct warden__tls_options *o, char **ret_warning, char **ret_reason)
{
    char shown[WARDEN_ANSWER_SHOWN_SIZE];
    WARDEN_SHOWN(host, shown);
    unsigned n = 0;
    const gnutls_datum_t *certs = sym_gnutls_certificate_get_peers(t->session, &n);
    if (!certs || n == 0) {
        return warden__probe_fail(ret_reason, -EPROTO, "%s: %s sent no certificate", proto, shown);
    }
    gnutls_x509_crt_t crt;
    if (sym_gnutls_x509_crt_init(&crt) < 0) {
        return -ENOMEM;
    }
    int r = sym_gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
    time_t expires = r < 0 ? (time_t)-1 : sym_gnutls_x509_crt_get_expiration_time(crt);
    sym_gnutls_x509_crt_deinit(crt);
    if (expires == (time_t)-1) {
        return warden__probe_fail(ret_reason, -EPROTO, "%s: the certificate of %s does not parse",
                                  proto, shown);
    }
    /* The wall clock, not the monotonic one: expiry is a date. */
    time_t now = time(NULL);
    char date[16];
    format_date(expires, date);
    if (expires <= now) {
        long ago = (long)((now - expires) / DAY);
        return warden__probe_fail(ret_reason, -EPROTO,
                                  "%s: certificate of %s expired %s (%ld day%s ago)", proto, shown,
                                  date, ago, ago == 1 ? "" : "s");
    }
    if (o->verify) {
        unsigned status = 0;
        r = sym_gnutls_certificate_verify_peers3(t->session, host, &status);
        if (r < 0) {
            return warden__probe_fail(ret_reason, -EPROTO,
                                      "%s: certificate of %s cannot be verified: %s", proto, shown,
                                      sym_gnutls_strerror(r));
        }
        if (status != 0) {
            return warden__probe_fail(ret_reason, -EPROTO, "%s: certificate of %s not trusted: %s",
                                      proto, shown, verify_error(status));
        }
    }
    *ret_warning = NULL;
    if (o->warn_days > 0 && expires - now < (time_t)o->warn_days * DAY) {
        /* "in 7 days" for 6 days and some hours: the days it still has,
         * begun ones included. */
        long in = (long)((expires - now + DAY - 1) / DAY);
        *ret_warning = warden__strdup_printf("%s: certificate of %s expires %s (in %ld day%s)",
                                             proto, shown, date, in, in == 1 ? "" : "s");
        if (!*ret_warning) {
            return -ENOMEM;
        }
    }
    return 0;
}

int warden__tls_start(int fd, const char *proto, const char *host,
                      const struct warden__tls_options *o, warden_usec_t start,
                      warden_usec_t deadline, struct warden__tls **ret, char **ret_warning,
                      char **ret_reason)
{
    _cleanup_free_ char *why = NULL;
    int r = warden__tls_load(&why);
    if (r < 0) {
        return warden__probe_fail(ret_reason, r, "%s: %s", proto, why ? why : strerror(-r));
    }
    _cleanup_(tls_freep) struct warden__tls *t = calloc(1, sizeof(*t));
    if (!t) {
        return -ENOMEM;
    }
    t->fd = fd;
    r = credentials(proto, o, &t->cred, ret_reason);
    if (r < 0) {
        return r;
    }
    if (sym_gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
        t->session = NULL;
        return -ENOMEM;
    }
    if (sym_gnutls_set_default_priority(t->session) < 0 ||
        sym_gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred) < 0) {
        return -ENOMEM;
    }
    /* SNI: a server with several names shows the certificate of this one. */
    if (!is_address(host) &&
        sym_gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, host, strlen(host)) < 0) {
        return -ENOMEM;
    }
    sym_gnutls_transport_set_int2(t->session, fd, fd);
    sym_gnutls_transport_set_push_function(t->session, push);
    sym_gnutls_transport_set_pull_function(t->session, pull);
    sym_gnutls_transport_set_pull_timeout_function(t->session, pull_timeout);
    r = handshake(t, proto, start, deadline, ret_reason);
    if (r < 0) {
        return r;
    }
    char *warning = NULL;
    r = certificate(t, proto, host, o, &warning, ret_reason);
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(t);
    *ret_warning = warning;
    return 0;
}
