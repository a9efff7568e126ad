/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging through libqb, where Pacemaker says. Private. */
#pragma once

#include <qb/qblog.h>

/* Set up targets from PCMK_logfacility/HA_LOGFACILITY (syslog),
 * PCMK_logfile/HA_logfile (a file) and PCMK_debug/HA_debug (debug level);
 * stderr when none is set (a run by hand). Every line carries the agent,
 * the resource instance and the action. */
void warden__log_open(const char *agent, const char *instance, const char *action);
void warden__log_close(void);
