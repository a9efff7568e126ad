/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file warden.h
 * libwarden: Exchange's EXRES cluster resource model for Pacemaker.
 */
#pragma once

#include "warden/agent.h"
#include "warden/dialogue.h"
#include "warden/dump.h"
#include "warden/op.h"
#include "warden/param.h"
#include "warden/probe.h"
#include "warden/time.h"
#include "warden/version.h"
