/* SPDX-License-Identifier: MIT */
#pragma once

#include <pipewire/pipewire.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* What every camera node shares: the one thread's sd-event loop (which also runs
 * PipeWire's loop), the connection to camerad's bus and the one to PipeWire. */
struct bridge {
        sd_event *event;
        sd_bus *bus;
        struct pw_loop *loop;
        struct pw_context *context;
        struct pw_core *core;
};
