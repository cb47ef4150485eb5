/* SPDX-License-Identifier: MIT */
#pragma once

#define HEALER_VERSION "0.1.0"
