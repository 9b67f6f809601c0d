// Internal to mask: expansion of a secret value into its patterns (raw and encodings).
// Works on std::string scratch buffers that callers wipe with WipeString. Parent side; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jitsec::mask {
struct Options;
}

namespace jitsec::mask::internal {

// Appends the patterns of `value` (nothing if it is shorter than options.min_length).
void ExpandInto(std::string_view value, const Options& options, std::vector<std::string>& out);
// Sorts bytewise, removes duplicates and empty patterns (wiping the removed ones).
void SortUnique(std::vector<std::string>& patterns);
// Overwrites the whole buffer (up to capacity) with zeros, then clears it.
void WipeString(std::string& s);

}  // namespace jitsec::mask::internal
