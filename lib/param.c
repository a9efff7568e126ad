/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parameters: declarations merged from the agent and the library, values
 * from OCF_RESKEY_*, typed parsing with messages that name the accepted form. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "param-int.h"
#include "util-int.h"

/* Values come from the administrator (or, through a reload, from an IPC
 * peer) and end up in one-line exit reasons and log lines: a newline would
 * start a second "ocf-exit-reason:" line, 128 KiB would flood the log. So
 * they are shown escaped and cut, the way probe.c shows server answers. */
const char *warden__shown(const char *text, char buf[static WARDEN_SHOWN_SIZE])
{
    size_t in = 0, out = 0;
    for (; text && text[in] && in < WARDEN_SHOWN_MAX; in++) {
        unsigned char ch = (unsigned char)text[in];
        char esc = ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't' : 0;
        if (ch == '\\' || ch == '\'') {
            esc = (char)ch;
        }
        if (esc) {
            buf[out++] = '\\';
            buf[out++] = esc;
        } else if (ch >= 0x20 && ch < 0x7f) {
            buf[out++] = (char)ch;
        } else {
            out += (size_t)snprintf(buf + out, 5, "\\x%02x", ch);
        }
    }
    strcpy(buf + out, text && text[in] ? "..." : "");
    return buf;
}

int warden__param_table_merge(const struct warden_param *agent, const struct warden_param *common,
                              const struct warden_param ***ret_table, size_t *ret_n)
{
    return warden__param_table_merge_more(agent, common, NULL, ret_table, ret_n);
}

static size_t table_length(const struct warden_param *t)
{
    size_t n = 0;
    while (t && t[n].name) {
        n++;
    }
    return n;
}

int warden__param_table_merge_more(const struct warden_param *agent,
                                   const struct warden_param *common,
                                   const struct warden_param *more,
                                   const struct warden_param ***ret_table, size_t *ret_n)
{
    size_t n_agent = table_length(agent);
    const struct warden_param *lib[] = {common, more};
    const struct warden_param **table =
        calloc(n_agent + table_length(common) + table_length(more) + 1, sizeof(*table));
    if (!table) {
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_agent; i++) {
        table[n++] = &agent[i];
    }
    for (size_t t = 0; t < ELEMENTSOF(lib); t++) {
        for (size_t i = 0; lib[t] && lib[t][i].name; i++) {
            bool overridden = false;
            for (size_t j = 0; j < n_agent; j++) {
                overridden = overridden || streq(agent[j].name, lib[t][i].name);
            }
            if (!overridden) {
                table[n++] = &lib[t][i];
            }
        }
    }
    *ret_table = table;
    *ret_n = n;
    return 0;
}

static int set_value(struct warden_param_value *v, const char *given)
{
    const char *text = !isempty(given) ? given : v->decl->default_value;
    char *copy = text ? strdup(text) : NULL;
    if (text && !copy) {
        return -ENOMEM;
    }
    free(v->text);
    v->text = copy;
    v->given = !isempty(given);
    return 0;
}

int warden__params_load(const struct warden_param *const *table, size_t n, warden_params **ret)
{
    warden_params *p = calloc(1, sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    p->values = calloc(n, sizeof(*p->values));
    if (!p->values) {
        free(p);
        return -ENOMEM;
    }
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        struct warden_param_value *v = &p->values[i];
        v->decl = table[i];
        char key[128];
        snprintf(key, sizeof(key), "OCF_RESKEY_%s", v->decl->name);
        /* Pacemaker passes an empty string for a parameter set to ""; it
         * counts as unset so the default applies, as in shell agents. */
        if (set_value(v, getenv(key)) < 0) {
            warden__params_free(p);
            return -ENOMEM;
        }
    }
    *ret = p;
    return 0;
}

/* A copy of what was given in p, and nothing of the text yet. */
static int copy_given(const warden_params *p, warden_params **ret)
{
    warden_params *c = calloc(1, sizeof(*c));
    if (!c || !(c->values = calloc(p->n, sizeof(*c->values)))) {
        free(c);
        return -ENOMEM;
    }
    c->n = p->n;
    for (size_t i = 0; i < p->n; i++) {
        c->values[i].decl = p->values[i].decl;
        if (set_value(&c->values[i], p->values[i].given ? p->values[i].text : NULL) < 0) {
            warden__params_free(c);
            return -ENOMEM;
        }
    }
    *ret = c;
    return 0;
}

/* The reload text is a sequence of records "<name>=<length>:<value>\n": the
 * value is counted, not terminated, so no byte of it (a newline in a check
 * command, say) can start another record. Anything else is refused whole;
 * the sizes are bounded before they are used. */
#define RELOAD_NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"
#define RELOAD_NAME_MAX   64
#define RELOAD_LENGTH_MAX 6 /* digits: values up to 999999 bytes */

int warden__params_copy_with(const warden_params *p, const char *text, warden_params **ret,
                             char **ret_reason)
{
    warden_params *c = NULL;
    int r = copy_given(p, &c);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ bool *seen = calloc(p->n ? p->n : 1, sizeof(*seen));
    if (!seen) {
        warden__params_free(c);
        return -ENOMEM;
    }
    const char *at = text ? text : "";
    while (*at && r == 0) {
        size_t offset = (size_t)(at - text);
        size_t name_len = strspn(at, RELOAD_NAME_CHARS);
        /* Only past an '=' is there anything to read: never past the NUL. */
        bool has_eq = name_len > 0 && at[name_len] == '=';
        const char *digits = has_eq ? at + name_len + 1 : "";
        size_t n_digits = strspn(digits, "0123456789");
        if (!has_eq || name_len > RELOAD_NAME_MAX || n_digits == 0 ||
            n_digits > RELOAD_LENGTH_MAX || digits[n_digits] != ':' ||
            (n_digits > 1 && digits[0] == '0')) {
            r = warden__set_reason(ret_reason, -EBADMSG, "malformed reload record at byte %zu",
                                   offset);
            break;
        }
        size_t len = (size_t)strtoul(digits, NULL, 10);
        const char *value = digits + n_digits + 1;
        /* The value and its closing newline must both be there. */
        if (strnlen(value, len + 1) != len + 1 || value[len] != '\n') {
            r = warden__set_reason(ret_reason, -EBADMSG,
                                   "reload record at byte %zu is not %zu bytes and a newline",
                                   offset, len);
            break;
        }
        size_t i = 0;
        while (i < c->n && !(strlen(c->values[i].decl->name) == name_len &&
                             strncmp(c->values[i].decl->name, at, name_len) == 0)) {
            i++;
        }
        if (i == c->n) {
            r = warden__set_reason(ret_reason, -ENOENT, "no parameter '%.*s'", (int)name_len, at);
        } else if (!(c->values[i].decl->flags & WARDEN_PARAM_RELOADABLE)) {
            /* Reload reaches a running keeper, as root: only what the table
             * says may change without a restart may change this way. */
            r = warden__set_reason(ret_reason, -EPERM, "parameter '%s' is not reloadable",
                                   c->values[i].decl->name);
        } else if (seen[i]) {
            r = warden__set_reason(ret_reason, -EBADMSG, "parameter '%s' given twice",
                                   c->values[i].decl->name);
        } else {
            seen[i] = true;
            _cleanup_free_ char *v = strndup(value, len);
            r = v ? set_value(&c->values[i], v) : -ENOMEM;
        }
        at = value + len + 1;
    }
    if (r < 0) {
        warden__params_free(c);
        return r;
    }
    *ret = c;
    return 0;
}

char *warden__params_reload_text(const warden_params *p)
{
    size_t cap = 1;
    for (size_t i = 0; i < p->n; i++) {
        const struct warden_param_value *v = &p->values[i];
        if (v->decl->flags & WARDEN_PARAM_RELOADABLE) {
            cap += strlen(v->decl->name) + (v->given ? strlen(v->text) : 0) + 32;
        }
    }
    char *text = calloc(1, cap);
    size_t len = 0;
    for (size_t i = 0; text && i < p->n; i++) {
        const struct warden_param_value *v = &p->values[i];
        if (v->decl->flags & WARDEN_PARAM_RELOADABLE) {
            /* Only what was given: an empty value means "the default". */
            const char *value = v->given ? v->text : "";
            len += (size_t)snprintf(text + len, cap - len, "%s=%zu:%s\n", v->decl->name,
                                    strlen(value), value);
        }
    }
    return text;
}

warden_params *warden__params_free(warden_params *p)
{
    if (!p) {
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++) {
        free(p->values[i].text);
    }
    free(p->values);
    free(p);
    return NULL;
}

int warden__parse_boolean(const char *text, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "y"};
    static const char *const no[] = {"false", "no", "off", "0", "n"};
    for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_integer(const char *text, int64_t *ret)
{
    const char *p = text;
    if (*p == '-' || *p == '+') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return -EINVAL;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (*end) {
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

const char *warden__param_form(const struct warden_param *decl)
{
    if (decl->form) {
        return decl->form;
    }
    switch (decl->type) {
    case WARDEN_PARAM_INTEGER:
        return "a whole number, e.g. 3";
    case WARDEN_PARAM_BOOLEAN:
        return "true or false (also yes/no, on/off, 1/0)";
    case WARDEN_PARAM_TIME:
        return "a whole number with unit ms, s, min or h, e.g. 500ms, 10s, 2min "
               "(a bare number is seconds)";
    case WARDEN_PARAM_STRING:
    default:
        return "a non-empty string";
    }
}

/* Whether the text parses as its type. */
static int parse_value(const struct warden_param_value *v)
{
    int64_t integer;
    bool boolean;
    warden_usec_t usec;
    switch (v->decl->type) {
    case WARDEN_PARAM_INTEGER:
        return parse_integer(v->text, &integer);
    case WARDEN_PARAM_BOOLEAN:
        return warden__parse_boolean(v->text, &boolean);
    case WARDEN_PARAM_TIME:
        return warden_time_parse(v->text, &usec);
    case WARDEN_PARAM_STRING:
    default:
        return 0;
    }
}

int warden__params_validate(warden_params *p, char **ret_reason)
{
    for (size_t i = 0; i < p->n; i++) {
        struct warden_param_value *v = &p->values[i];
        const struct warden_param *d = v->decl;
        if (!v->text) {
            if (d->flags & WARDEN_PARAM_REQUIRED) {
                *ret_reason = warden__strdup_printf("parameter '%s' is required (%s)", d->name,
                                                    warden__param_form(d));
                return -EINVAL;
            }
            continue;
        }
        int r = parse_value(v);
        if (r >= 0 && d->options) {
            r = -EINVAL;
            for (const char *const *o = d->options; *o && r < 0; o++) {
                r = streq(v->text, *o) ? 0 : -EINVAL;
            }
        }
        if (r >= 0 && d->check) {
            r = d->check(v->text);
        }
        if (r < 0) {
            char shown[WARDEN_SHOWN_SIZE];
            *ret_reason =
                warden__strdup_printf("parameter '%s' has invalid value '%s': expected %s", d->name,
                                      warden__shown(v->text, shown), warden__param_form(d));
            return -EINVAL;
        }
    }
    return 0;
}

int warden__params_check_node(const warden_params *p, char **ret_reason)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct warden_param_value *v = &p->values[i];
        struct stat st;
        if (!(v->decl->flags & WARDEN_PARAM_NODE_PATH) || isempty(v->text) ||
            stat(v->text, &st) == 0) {
            continue;
        }
        char shown[WARDEN_SHOWN_SIZE];
        *ret_reason =
            warden__strdup_printf("parameter '%s': '%s' is missing on this node: %s", v->decl->name,
                                  warden__shown(v->text, shown), strerror(errno));
        return -ENXIO;
    }
    return 0;
}

static const struct warden_param_value *find(const warden_params *p, const char *name)
{
    for (size_t i = 0; p && i < p->n; i++) {
        if (streq(p->values[i].decl->name, name)) {
            return &p->values[i];
        }
    }
    return NULL;
}

const char *warden_params_string(const warden_params *p, const char *name)
{
    const struct warden_param_value *v = find(p, name);
    return v ? v->text : NULL;
}

/* The getters parse the text each time, so they are right before validation
 * too (an agent's prepare() reads them); a malformed value reads as 0. */
int64_t warden_params_integer(const warden_params *p, const char *name)
{
    const struct warden_param_value *v = find(p, name);
    int64_t value = 0;
    if (v && v->text && v->decl->type == WARDEN_PARAM_INTEGER) {
        parse_integer(v->text, &value);
    }
    return value;
}

bool warden_params_boolean(const warden_params *p, const char *name)
{
    const struct warden_param_value *v = find(p, name);
    bool value = false;
    if (v && v->text && v->decl->type == WARDEN_PARAM_BOOLEAN) {
        warden__parse_boolean(v->text, &value);
    }
    return value;
}

warden_usec_t warden_params_time(const warden_params *p, const char *name)
{
    const struct warden_param_value *v = find(p, name);
    warden_usec_t value = 0;
    if (v && v->text && v->decl->type == WARDEN_PARAM_TIME) {
        warden_time_parse(v->text, &value);
    }
    return value;
}

bool warden_params_is_set(const warden_params *p, const char *name)
{
    const struct warden_param_value *v = find(p, name);
    return v && v->given;
}

int warden_params_set_default(warden_params *p, const char *name, const char *value)
{
    struct warden_param_value *v = (struct warden_param_value *)find(p, name);
    if (!v) {
        return -ENOENT;
    }
    if (v->given) {
        return 0;
    }
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy) {
        return -ENOMEM;
    }
    free(v->text);
    v->text = copy;
    return 0;
}

void warden__xml_escape(FILE *out, const char *text)
{
    for (const char *c = text; c && *c; c++) {
        switch (*c) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*c, out);
        }
    }
}

/* The content type as the caller's OCF version knows it. OCF 1.1's schema
 * has no "time" (ra-api-1.dtd of 1.0 has): a time is a string there, and
 * its description says the form. An enumeration is a "select" in 1.1 and a
 * string in 1.0, whose DTD has no options. */
static const char *type_name(const struct warden_param *d, bool ocf11)
{
    switch (d->type) {
    case WARDEN_PARAM_INTEGER:
        return "integer";
    case WARDEN_PARAM_BOOLEAN:
        return "boolean";
    case WARDEN_PARAM_TIME:
        return ocf11 ? "string" : "time";
    case WARDEN_PARAM_STRING:
    default:
        return ocf11 && d->options ? "select" : "string";
    }
}

void warden__params_print_metadata(const struct warden_param *const *table, size_t n, bool ocf11,
                                   FILE *out)
{
    fputs("<parameters>\n", out);
    for (size_t i = 0; i < n; i++) {
        const struct warden_param *d = table[i];
        fprintf(out, "<parameter name=\"%s\" required=\"%d\" unique=\"%d\"", d->name,
                !!(d->flags & WARDEN_PARAM_REQUIRED), !!(d->flags & WARDEN_PARAM_UNIQUE));
        if (ocf11) {
            fprintf(out, " reloadable=\"%d\"", !!(d->flags & WARDEN_PARAM_RELOADABLE));
        }
        fputs(">\n<longdesc lang=\"en\">", out);
        warden__xml_escape(out, d->longdesc ? d->longdesc : d->shortdesc);
        if (d->type == WARDEN_PARAM_TIME) {
            /* Its type no longer says so in OCF 1.1. */
            fputs(" Takes ", out);
            warden__xml_escape(out, warden__param_form(d));
            fputc('.', out);
        }
        fputs("</longdesc>\n<shortdesc lang=\"en\">", out);
        warden__xml_escape(out, d->shortdesc);
        fprintf(out, "</shortdesc>\n<content type=\"%s\"", type_name(d, ocf11));
        if (d->default_value) {
            fputs(" default=\"", out);
            warden__xml_escape(out, d->default_value);
            fputc('"', out);
        }
        if (ocf11 && d->type == WARDEN_PARAM_STRING && d->options) {
            fputs(">\n", out);
            for (const char *const *o = d->options; *o; o++) {
                fputs("<option value=\"", out);
                warden__xml_escape(out, *o);
                fputs("\"/>\n", out);
            }
            fputs("</content>\n</parameter>\n", out);
        } else {
            fputs("/>\n</parameter>\n", out);
        }
    }
    fputs("</parameters>\n", out);
}
