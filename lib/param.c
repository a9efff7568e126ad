/* Parameters: declarations merged from the agent and the library, values
 * from OCF_RESKEY_*, typed parsing with messages that name the accepted form. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "param-int.h"
#include "util-int.h"

int warden__param_table_merge(const struct warden_param *agent, const struct warden_param *common,
                              const struct warden_param ***ret_table, size_t *ret_n)
{
    size_t n_agent = 0, n_common = 0;
    while (agent && agent[n_agent].name) {
        n_agent++;
    }
    while (common && common[n_common].name) {
        n_common++;
    }
    const struct warden_param **table = calloc(n_agent + n_common + 1, sizeof(*table));
    if (!table) {
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_agent; i++) {
        table[n++] = &agent[i];
    }
    for (size_t i = 0; i < n_common; i++) {
        bool overridden = false;
        for (size_t j = 0; j < n_agent; j++) {
            overridden = overridden || streq(agent[j].name, common[i].name);
        }
        if (!overridden) {
            table[n++] = &common[i];
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

int warden__params_copy_with(const warden_params *p, const char *text, warden_params **ret)
{
    warden_params *c = calloc(1, sizeof(*c));
    if (!c || !(c->values = calloc(p->n, sizeof(*c->values)))) {
        free(c);
        return -ENOMEM;
    }
    c->n = p->n;
    int r = 0;
    for (size_t i = 0; i < p->n && r == 0; i++) {
        c->values[i].decl = p->values[i].decl;
        r = set_value(&c->values[i], p->values[i].given ? p->values[i].text : NULL);
    }
    _cleanup_free_ char *copy = strdup(text ? text : "");
    char *save = NULL;
    for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line && r == 0;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) {
            continue;
        }
        *eq = '\0';
        r = -ENOENT;
        for (size_t i = 0; i < c->n; i++) {
            if (streq(c->values[i].decl->name, line)) {
                r = set_value(&c->values[i], eq + 1);
                break;
            }
        }
    }
    if (r < 0 || !copy) {
        warden__params_free(c);
        return r < 0 ? r : -ENOMEM;
    }
    *ret = c;
    return 0;
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
        if (r >= 0 && d->check) {
            r = d->check(v->text);
        }
        if (r < 0) {
            *ret_reason =
                warden__strdup_printf("parameter '%s' has invalid value '%s': expected %s", d->name,
                                      v->text, warden__param_form(d));
            return -EINVAL;
        }
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

static const char *type_name(enum warden_param_type t)
{
    switch (t) {
    case WARDEN_PARAM_INTEGER:
        return "integer";
    case WARDEN_PARAM_BOOLEAN:
        return "boolean";
    case WARDEN_PARAM_TIME:
        return "time";
    case WARDEN_PARAM_STRING:
    default:
        return "string";
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
        fputs("</longdesc>\n<shortdesc lang=\"en\">", out);
        warden__xml_escape(out, d->shortdesc);
        fprintf(out, "</shortdesc>\n<content type=\"%s\"", type_name(d->type));
        if (d->default_value) {
            fputs(" default=\"", out);
            warden__xml_escape(out, d->default_value);
            fputc('"', out);
        }
        fputs("/>\n</parameter>\n", out);
    }
    fputs("</parameters>\n", out);
}
