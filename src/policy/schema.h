// The policy schema: one table listing every key path of policy format version 1, with its
// type, default and a one-line doc. The loader checks keys against it; jitsec explain, the man
// page and the completions tests iterate it. Pure data, no yaml-cpp. Parent side.
// Paths use "*" for a user-chosen name and "[]" for a list entry, e.g.
// "tasks.*.credentials.*.deliver[].file.format".
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jitsec::policy {

struct SchemaKey {
  std::string_view path;
  std::string_view type;           // map, string, bool, int, duration, path, list<...>, a|b|c
  std::string_view default_value;  // "" when none; "(required)" when the key must be given
  std::string_view doc;
};

// Every key of the format, parents before children, in the order of man/jitsec-policy.5.
std::span<const SchemaKey> Schema();

// The row for a schema path (with "*" and "[]"), or nullptr.
const SchemaKey* FindSchemaKey(std::string_view path);

// The fixed key names allowed directly below a schema path ("" = top level), in table order.
// Empty when the path is a map of user-chosen names ("<path>.*" exists) or a scalar.
std::vector<std::string_view> AllowedKeys(std::string_view path);

// Levenshtein distance (insert, delete, replace), as ninja's edit_distance.
int EditDistance(std::string_view a, std::string_view b);

// The closest candidate to `word`, when it is close enough to be a plausible typo
// (distance <= max(1, len/3), at most 3); "" otherwise.
std::string Suggest(std::string_view word, std::span<const std::string_view> candidates);
std::string Suggest(std::string_view word, std::span<const std::string> candidates);

}  // namespace jitsec::policy
