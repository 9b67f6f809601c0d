// Random bytes from the kernel (getrandom). Parent side.
#pragma once

#include <string>

#include "base/secret.h"

namespace jitsec {

// Fills with kernel randomness (getrandom, retried on EINTR, /dev/urandom as a fallback).
void FillRandom(void* buf, size_t size);
std::string RandomHex(size_t bytes);
SecretBytes RandomSecret(size_t bytes);
// prefix + 2*bytes lowercase hex digits, e.g. NewId("r-") for a run id.
std::string NewId(std::string_view prefix, size_t bytes = 8);

}  // namespace jitsec
