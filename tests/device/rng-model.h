/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A virtio entropy device for the tests, made with loopback_device_new():
 * its own small virtio-mmio register model, one queue, buffers filled
 * with a stream in which every 8-byte word at offset o is o ^ RNG_STREAM_KEY
 * (little-endian), so any aligned piece says where it came from.
 */
#ifndef LOOPBACK_TESTS_RNG_MODEL_H
#define LOOPBACK_TESTS_RNG_MODEL_H

#include <loopback/device.h>

#define RNG_STREAM_KEY 0x5eed0f10b4c4a11cULL

typedef struct RngModel RngModel;

void rng_stream_fill(uint64_t off, uint8_t *buf, uint32_t len);
/* The creation parameters, with the model's ops and @opaque. */
LoopbackDeviceConfig rng_model_config(void *opaque);
/* @eventfds: kicks through an ioeventfd, interrupts through an irqfd. */
RngModel *rng_model_new(bool eventfds, GError **error);
LoopbackDevice *rng_model_device(RngModel *r);
/* Serves the device (and its kicks) from @ctx. */
void rng_model_attach(RngModel *r, GMainContext *ctx);
/* Frees the device too; stop whatever iterates the context first. */
void rng_model_free(RngModel *r);
/* Stream bytes handed out, and ring errors seen (any thread). */
uint64_t rng_model_produced(RngModel *r);
unsigned int rng_model_errors(RngModel *r);

#endif
