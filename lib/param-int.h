/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
/* The same with a second library table after common (more may be NULL). */
int warden__param_table_merge_more(const struct warden_param *agent,
                                   const struct warden_param *common,
                                   const struct warden_param *more,
                                   const struct warden_param ***ret_table, size_t *ret_n);

/* Read OCF_RESKEY_<name> for each declaration (environment lookup through
 * getenv). Does not validate. */
int warden__params_load(const struct warden_param *const *table, size_t n, warden_params **ret);

/* Parse every value against its type and check. On the first bad value
 * returns -EINVAL and a reason naming the parameter and the accepted form. */
int warden__params_validate(warden_params *p, char **ret_reason);

warden_params *warden__params_free(warden_params *p);

/* Parameters that must exist on this node (WARDEN_PARAM_NODE_PATH), for the
 * actions that start the service: -ENXIO and a reason naming the first that
 * is missing. */
int warden__params_check_node(const warden_params *p, char **ret_reason);

/* The reload text: one record "<name>=<length>:<value>\n" per reloadable
 * parameter, with the value the administrator gave (empty: the default).
 * NULL when out of memory. */
char *warden__params_reload_text(const warden_params *p);

/* A copy of p with the values of a reload text (see above) replacing the
 * given ones; an empty value returns a parameter to its default. Not
 * validated. The text is parsed strictly, and refused whole: -EBADMSG when
 * malformed (or a name comes twice), -ENOENT for a name p does not declare,
 * -EPERM for one that is not WARDEN_PARAM_RELOADABLE; ret_reason (may be
 * NULL) then says which. */
int warden__params_copy_with(const warden_params *p, const char *text, warden_params **ret,
                             char **ret_reason);

/* A value as it may appear in a reason or a log line: at most
 * WARDEN_SHOWN_MAX bytes of it, then "...", printable ASCII with \n, \r,
 * \t, \\, \' and \xHH escapes. Returns buf. */
#define WARDEN_SHOWN_MAX  64
#define WARDEN_SHOWN_SIZE (WARDEN_SHOWN_MAX * 4 + 4)
const char *warden__shown(const char *text, char buf[static WARDEN_SHOWN_SIZE]);

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
