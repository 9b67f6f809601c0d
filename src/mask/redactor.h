// Streaming redaction of secret values (and their common encodings) in the command's output.
// Memory is bounded by the patterns, not the output; bytes that cannot start a secret are
// released at once, a possible prefix is held until the next bytes rule it out or the stream
// ends. No timers. Parent side; no I/O here, no logging of anything secret-derived.
// Owns: pattern expansion (encodings), the Aho-Corasick matcher with a sampled q-gram skip
// filter, and the per-stream state. Must not: allocate per output byte, use timers, throw.
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
  // ordinary output); `jitsec explain` warns about them. 6 is kept: a 6-byte random value has
  // ~36 bits, ordinary words and numbers of that length are rarely secrets, and it is the
  // length below which the GitHub runner's "mask everything" failure mode (#326) starts to bite.
  // Lines of a multi-line value are registered on their own when they are this long too.
  size_t min_length = 6;
  bool encodings = true;  // base64 (std/url, padded or not, 3 alignments), percent, JSON, hex
  std::string replacement = "***";
  // The skip filter's loop on AVX2 where the CPU has it (x86-64); false keeps the scalar loop
  // (tests run both; the output is the same either way).
  bool simd = true;
};

// The compiled pattern set, shared by the streams of one run. Holds secret-derived bytes.
class PatternSet;

[[nodiscard]] std::shared_ptr<const PatternSet> Compile(const std::vector<const SecretBytes*>& secrets,
                                                        const Options& options = {});
size_t PatternCount(const PatternSet& set);
size_t MaxPatternLength(const PatternSet& set);
// Shortest pattern (0 when there are none): the skip filter's window.
size_t MinPatternLength(const PatternSet& set);
// Secrets passed to Compile that were too short to mask (for `jitsec explain` warnings).
size_t SkippedSecretCount(const PatternSet& set);
// Whether the skip filter runs its AVX2 loop (Options::simd and a CPU that has AVX2).
bool UsesSimd(const PatternSet& set);

// The patterns registered for one value, deduplicated and sorted (empty when the value is
// shorter than options.min_length). Exposed for tests and `explain` counts; the result holds
// secret-derived bytes.
//   raw value; base64 std and url, padded and not, at the 3 byte alignments (only the
//   characters fully determined by the value, plus the end-of-stream forms with the final
//   partial character, with and without '='); percent-encoding (RFC 3986 unreserved kept, upper
//   and lower hex; encodeURIComponent; encodeURI; form encoding with '+' for space; only
//   reserved characters encoded, upper and lower); JSON escaping (strict, with "\/", with
//   upper-case \u00XX, and with non-ASCII UTF-8 as \uXXXX); HTML/XML escaping ("&#39;" and
//   "&apos;"); hex lower and upper. Each line (and trimmed line) of a multi-line value that is
//   at least min_length long adds its raw, JSON and percent forms.
// Not covered: base64 wrapped at 76 columns (coreutils `base64` on values over 57 bytes) and
// the final partial base64 character when other bytes follow the value (<= 4 bits).
std::vector<SecretBytes> ExpandSecret(std::string_view value, const Options& options = {});

// Output of Feed as a list of spans instead of one copy, for a relay that writes them with
// writev: runs of the input passed on unchanged (and the replacement) are referenced, so they
// must stay unchanged until the spans are written; bytes released from the held buffer are
// copied into this object. Reused from Feed to Feed (no allocation once its vectors have
// grown); its copies are wiped when it is cleared or destroyed.
class OutputSpans {
 public:
  OutputSpans() = default;
  ~OutputSpans();
  OutputSpans(const OutputSpans&) = delete;
  OutputSpans& operator=(const OutputSpans&) = delete;

  void clear();
  size_t size() const { return bytes_; }  // bytes in all spans
  size_t span_count() const { return pieces_.size(); }
  std::string_view span(size_t i) const;  // valid until the next Append or clear
  std::string ToString() const;

  void AppendRef(std::string_view bytes);   // referenced: must outlive the use of the spans
  void AppendCopy(std::string_view bytes);  // copied

 private:
  struct Piece {
    const char* ref;  // nullptr: the bytes are own_[offset, offset + size)
    size_t offset;
    size_t size;
  };
  std::vector<Piece> pieces_;
  std::string own_;
  size_t bytes_ = 0;
};

// One output stream's state (stdout and stderr each have their own).
class Redactor {
 public:
  explicit Redactor(std::shared_ptr<const PatternSet> patterns);
  ~Redactor();
  Redactor(Redactor&&) noexcept;
  Redactor& operator=(Redactor&&) noexcept;

  // Appends to `out` everything of `in` (after what is held) that is safe to emit now: every
  // occurrence of a pattern becomes the replacement, overlapping and adjacent occurrences
  // become one replacement. At most MaxPatternLength-1 bytes stay held afterwards.
  void Feed(std::string_view in, std::string& out);
  // The same output as spans: runs of `in` are referenced, not copied (see OutputSpans).
  void Feed(std::string_view in, OutputSpans& out);
  // End of stream: emits what is held (masked as needed). The Redactor can then start a new
  // stream.
  void Finish(std::string& out);
  void Finish(OutputSpans& out);
  // Bytes of the output received but not yet emitted (a possible secret prefix).
  size_t held_bytes() const;

 private:
  template <class Out>
  void FeedTo(std::string_view in, Out& out);
  template <class Out>
  void FinishTo(Out& out);

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace jitsec::mask
