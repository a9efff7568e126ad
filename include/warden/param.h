/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file param.h
 * An agent's parameters: typed declarations, and the values Pacemaker passed
 * as OCF_RESKEY_<name>.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "warden/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The OCF content types a parameter can have. */
enum warden_param_type {
    WARDEN_PARAM_STRING,
    WARDEN_PARAM_INTEGER,
    WARDEN_PARAM_BOOLEAN,
    WARDEN_PARAM_TIME, /**< "500ms", "10s", "2min"; a bare number is seconds */
};

enum {
    WARDEN_PARAM_REQUIRED = 1 << 0,   /**< must be given; no default */
    WARDEN_PARAM_UNIQUE = 1 << 1,     /**< no two resources may share the value */
    WARDEN_PARAM_RELOADABLE = 1 << 2, /**< can change without a restart (OCF 1.1) */
    /** A path that must exist on the node that starts the service (start and
     * validate-all answer OCF_ERR_ARGS, 2, when it does not). */
    WARDEN_PARAM_NODE_PATH = 1 << 3,
};

/**
 * One parameter declaration. Tables end with an entry whose name is NULL.
 * @p check, when set, validates a value beyond its type; it returns 0 or
 * -EINVAL, and @p form then tells the administrator what is accepted.
 * @p options, when set, is the whole list of accepted values of a string
 * parameter: anything else is refused, and OCF 1.1 meta-data shows it as a
 * "select" with one option each.
 */
struct warden_param {
    const char *name;
    enum warden_param_type type;
    unsigned flags;
    const char *default_value; /**< as text, exactly as shown in meta-data */
    const char *shortdesc;
    const char *longdesc;
    const char *form; /**< the accepted form, for error messages (optional) */
    int (*check)(const char *value);
    const char *const *options; /**< NULL-terminated; NULL when any value goes */
};

/** The parsed values of one invocation. */
typedef struct warden_params warden_params;

/** @return the text of a parameter (given or default), or NULL when unset. */
const char *warden_params_string(const warden_params *p, const char *name);

/** @return the value of an integer parameter (0 when unset). */
int64_t warden_params_integer(const warden_params *p, const char *name);

/** @return the value of a boolean parameter (false when unset). */
bool warden_params_boolean(const warden_params *p, const char *name);

/** @return the value of a time parameter in microseconds (0 when unset). */
warden_usec_t warden_params_time(const warden_params *p, const char *name);

/** @return whether the administrator gave the parameter (not just a default). */
bool warden_params_is_set(const warden_params *p, const char *name);

/**
 * Replace the default of a parameter for this invocation, for agents whose
 * defaults derive from other parameters (e.g. a command built from a config
 * path). A value the administrator gave wins.
 * @return 0, -ENOENT for an undeclared name, -ENOMEM.
 */
int warden_params_set_default(warden_params *p, const char *name, const char *value);

#ifdef __cplusplus
}
#endif
