/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point; replay.c calls it for every corpus file under gcc. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
