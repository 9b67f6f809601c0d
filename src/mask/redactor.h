// Streaming redaction of secret values (and their common encodings) in the command's output.
// Memory is bounded by the patterns, not the output; bytes that cannot start a secret are
// released at once, a possible prefix is held until the next bytes rule it out or the stream
// ends. No timers. Parent side; no I/O here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret.h"

namespace jitsec::mask {

struct Options {
  // Values shorter than this are delivered but not masked (masking them would mangle
  // ordinary output); `jitsec explain` warns about them.
  size_t min_length = 6;
  bool encodings = true;  // base64 (std/url, padded or not, 3 alignments), percent, JSON, hex
  std::string replacement = "***";
};

// The compiled pattern set, shared by the streams of one run. Holds secret-derived bytes.
class PatternSet;

[[nodiscard]] std::shared_ptr<const PatternSet> Compile(const std::vector<const SecretBytes*>& secrets,
                                                        const Options& options = {});
size_t PatternCount(const PatternSet& set);
size_t MaxPatternLength(const PatternSet& set);

// One output stream's state (stdout and stderr each have their own).
class Redactor {
 public:
  explicit Redactor(std::shared_ptr<const PatternSet> patterns);
  ~Redactor();
  Redactor(Redactor&&) noexcept;
  Redactor& operator=(Redactor&&) noexcept;

  // Appends to `out` everything of `in` (after what is held) that is safe to emit now.
  void Feed(std::string_view in, std::string& out);
  // End of stream: emits what is held (masked as needed).
  void Finish(std::string& out);
  size_t held_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace jitsec::mask
