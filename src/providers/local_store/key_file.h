// The store key file rules live in base/key_file.h (shared with the audit key).
#pragma once

#include "base/key_file.h"

namespace jitsec::providers::local_store {
using jitsec::kKeyBytes;
using jitsec::LoadOrCreateKeyFile;
using jitsec::ReadKeyFile;
}  // namespace jitsec::providers::local_store
