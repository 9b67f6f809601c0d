// Shared input generators for the masking benchmarks: realistic log-like text and secrets.
// Deterministic (fixed seeds) so runs compare. Bench-only code.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace jitsec::mask::bench {

// Random alphanumeric secrets of 16..40 bytes, like API keys and generated passwords.
inline std::vector<std::string> MakeSecrets(size_t n, uint32_t seed = 42) {
  static const char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    size_t len = 16 + rng() % 25;
    std::string s;
    for (size_t k = 0; k < len; ++k) s.push_back(kAlnum[rng() % 62]);
    out.push_back(s);
  }
  return out;
}

// Build-log-like text: words, paths, numbers, hex ids, JSON fragments, newlines.
inline std::string MakeLogText(size_t bytes, uint32_t seed = 7) {
  static const std::vector<std::string> kWords = {
      "INFO",     "DEBUG",   "request",   "completed", "in",       "ms",      "GET",
      "/api/v1/users", "status=200", "Compiling", "src/main.cc", "warning:", "unused",
      "variable", "the",     "of",        "and",       "connection", "established", "to",
      "db.internal:5432", "{\"id\":", "\"name\":", "true},", "[worker-3]", "retrying",
      "after",    "error",   "timeout",   "user@example.com", "Downloading", "package",
      "1.2.3",    "OK",      "==>",       "Step",      "done."};
  std::mt19937 rng(seed);
  std::string out;
  out.reserve(bytes + 64);
  while (out.size() < bytes) {
    switch (rng() % 10) {
      case 0: {
        static const char kHex[] = "0123456789abcdef";
        for (int i = 0; i < 12; ++i) out.push_back(kHex[rng() % 16]);
        break;
      }
      case 1: out += std::to_string(rng() % 100000); break;
      default: out += kWords[rng() % kWords.size()];
    }
    out.push_back(rng() % 12 == 0 ? '\n' : ' ');
  }
  out.resize(bytes);
  return out;
}

}  // namespace jitsec::mask::bench
