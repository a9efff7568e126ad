/* Parameter tables and parsed values (private). */
#pragma once

#include <stdio.h>

#include "warden/param.h"

struct warden_param_value {
    const struct warden_param *decl;
    char *text; /* given or default; NULL when unset */
    bool given; /* from OCF_RESKEY_<name> */
};

struct warden_params {
    size_t n;
    struct warden_param_value *values;
};

/* Merge an agent's declarations over the library's common ones: an agent entry
 * replaces a common entry of the same name. The result points into both
 * tables and is freed with free(). Order: agent first, then common. */
int warden__param_table_merge(const struct warden_param *agent, const struct warden_param *common,
                              const struct warden_param ***ret_table, size_t *ret_n);

/* Read OCF_RESKEY_<name> for each declaration (environment lookup through
 * getenv). Does not validate. */
int warden__params_load(const struct warden_param *const *table, size_t n, warden_params **ret);

/* Parse every value against its type and check. On the first bad value
 * returns -EINVAL and a reason naming the parameter and the accepted form. */
int warden__params_validate(warden_params *p, char **ret_reason);

warden_params *warden__params_free(warden_params *p);

/* A copy of p with the values given in text ("name=value" lines) replacing
 * the given ones; an empty value returns a parameter to its default. Not
 * validated. -ENOENT for a name p does not declare. */
int warden__params_copy_with(const warden_params *p, const char *text, warden_params **ret);

/* The accepted form of a parameter, for messages. */
const char *warden__param_form(const struct warden_param *decl);

/* Parse a boolean the way Pacemaker does (true/false, yes/no, on/off, 1/0,
 * y/n). */
int warden__parse_boolean(const char *text, bool *ret);

/* Print the meta-data <parameters> block. ocf11 adds reloadable flags. */
void warden__params_print_metadata(const struct warden_param *const *table, size_t n, bool ocf11,
                                   FILE *out);

/* Print text with XML special characters escaped. */
void warden__xml_escape(FILE *out, const char *text);
