/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

struct manager;

/* Manager.CreateSession(s mode) → o and CreateSessionWithOptions(s mode, a{sv}) → o
 * (userdata: the struct manager). Neither waits on the loop: polkit is asked with
 * bus_verify_polkit_async(), then whether the caller is still on the bus with an
 * asynchronous NameHasOwner; the call is parked meanwhile and answered from the reply. */
int bus_create_session(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_create_session_with_options(sd_bus_message *msg, void *userdata, sd_bus_error *error);

/* At exit: drops the calls still waiting for NameHasOwner (their callers get no reply). */
void session_requests_free(struct manager *m);
