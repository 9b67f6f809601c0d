// The matcher: Aho-Corasick over bytes (sparse trie with failure links, dense root row),
// fronted by a sampled q-gram filter so that output with no secret in it is mostly skipped.
//
// Why the filter is exact: every pattern is at least m = MinPatternLength bytes long. With
// q-grams of q bytes and stride S = w - q + 1 (w = min(m, kMaxWindow)), any occurrence starting
// at t contains the q-gram at the unique sample position p (a multiple of S) in [t, t+S-1],
// and that q-gram is pattern[p-t .. p-t+q) with p-t < S. The filter holds the hashes of
// pattern[k .. k+q) for every pattern and k < S, so a sample that misses rules out all starts
// in [p-S+1, p]. The automaton only runs (from the root) where a sample hits. The filter is a
// blocked Bloom filter (one word, two bits per q-gram): false positives only cost time.
#include "mask/redactor.h"

#include <string.h>  // explicit_bzero

#if defined(__x86_64__)
#include <immintrin.h>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define JITSEC_HAVE_SYS_PLATFORM_X86 1
#else
#define JITSEC_HAVE_SYS_PLATFORM_X86 0
#endif
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "mask/patterns.h"

namespace jitsec::mask {

namespace {

constexpr size_t kMaxQ = 8;          // the longest q-gram the filter can hash (one 64-bit load)
constexpr size_t kFewPatternsQ = 4;  // q-gram length for up to kManyPatterns patterns
constexpr size_t kManyPatternsQ = 5;
constexpr size_t kManyPatterns = 256;
static_assert(kFewPatternsQ <= kManyPatternsQ && kManyPatternsQ <= kMaxQ);

// The low q bytes of a little-endian 64-bit load: the q-gram the filter hashes.
constexpr uint64_t QGramMask(size_t q) { return q >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * q)) - 1; }
constexpr size_t kMaxWindow = 16;  // larger windows mean longer strides but a fuller filter

template <class T>
void WipeVector(std::vector<T>& v) {
  if (!v.empty()) explicit_bzero(v.data(), v.size() * sizeof(T));
  v.clear();
}

uint64_t RoundUp(uint64_t x, uint64_t step) { return (x + step - 1) / step * step; }

// The two kinds of output the matcher produces, for either sink: bytes that stay where they are
// until the caller's next Feed (the input, the replacement), and bytes of the held buffer, which
// SaveHeld overwrites before Feed returns.
void AppendStable(std::string& out, const char* p, size_t n) { out.append(p, n); }
void AppendHeld(std::string& out, const char* p, size_t n) { out.append(p, n); }
void AppendStable(OutputSpans& out, const char* p, size_t n) {
  out.AppendRef(std::string_view(p, n));
}
void AppendHeld(OutputSpans& out, const char* p, size_t n) {
  out.AppendCopy(std::string_view(p, n));
}

// The skip filter is a blocked Bloom filter: one 64-bit word per q-gram (one memory access), two
// bits in it, chosen by hashes of the q-gram (v: its bytes, little-endian, in the low bits).
// Two hash families, one per filter: kScalar multiplies in 64 bits (the scalar loop); kVector
// in 32 bits, which AVX2 can do four at a time (it has no 64-bit multiplication). The high
// bits of a product depend on every bit of the multiplicand, so the word comes from the top
// bits and each bit index from the top six of a second product.
enum class FilterHash : uint8_t { kScalar, kVector };

struct Probe {
  size_t word;
  uint64_t bits;
};

constexpr uint64_t kWordHash64 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kBitsHash64 = 0xC2B2AE3D27D4EB4Full;
constexpr uint32_t kFold32 = 0x9E3779B1u;  // folds bytes 4..7 into bytes 0..3 (kVector)
constexpr uint32_t kWordHash32 = 0x85EBCA77u;
constexpr uint32_t kBitsHash32 = 0xC2B2AE3Du;

// word_bits: log2 of the filter's word count (6..16).
inline Probe ProbeScalar(uint64_t v, unsigned word_bits) {
  const uint64_t x = v * kBitsHash64;
  return {size_t((v * kWordHash64) >> (64 - word_bits)),
          (uint64_t{1} << (x >> 58)) | (uint64_t{1} << ((x >> 52) & 63))};
}

inline Probe ProbeVector(uint64_t v, unsigned word_bits) {
  const uint32_t c = uint32_t(v) ^ uint32_t(uint32_t(v >> 32) * kFold32);
  const uint32_t g = c * kBitsHash32;
  return {size_t(uint32_t(c * kWordHash32) >> (32 - word_bits)),
          (uint64_t{1} << (g >> 26)) | (uint64_t{1} << ((g >> 20) & 63))};
}

#if defined(__x86_64__)
// AVX2 in the CPU and its 256-bit state enabled by the kernel (XCR0 bits 1 and 2), as glibc's
// dynamic loader found them at start-up (CPU_FEATURE_ACTIVE, glibc >= 2.33: "active" includes
// the kernel's XCR0; without it, the scalar loop). Asking CPUID again would cost a trap to the
// hypervisor per instruction on a VM (~6 us each here; the three leaves this needs were 25 us
// of every `run`), and __builtin_cpu_supports would link libgcc's CPU probe, a constructor
// running CPUID at every start of every jitsec command.
bool CpuHasAvx2() {
#if JITSEC_HAVE_SYS_PLATFORM_X86
  return CPU_FEATURE_ACTIVE(AVX2);
#else
  return false;
#endif
}

// The skip loop on AVX2, four samples (at i, i + S, i + 2S, i + 3S) per step with the kVector
// hash: ProbeVector four lanes at a time and one gather of the four filter words. Returns the
// offset of the first sample that hits, or the first offset it did not test (it only tests
// blocks whose four 8-byte loads fit before n); the caller tests the rest one by one.
__attribute__((target("avx2"))) size_t FirstHitAvx2(const uint8_t* p, size_t n, size_t stride,
                                                     uint64_t keep, const uint64_t* filter,
                                                     unsigned word_bits) {
  const __m256i keep_v = _mm256_set1_epi64x(static_cast<long long>(keep));
  const __m256i fold = _mm256_set1_epi64x(kFold32);
  const __m256i word_hash = _mm256_set1_epi64x(kWordHash32);
  const __m256i bits_hash = _mm256_set1_epi64x(kBitsHash32);
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i low6 = _mm256_set1_epi64x(63);
  // The word index is the top word_bits of the low 32-bit product, moved to the top of the
  // lane first (the high half of each lane holds other bytes' products).
  const __m128i word_shift = _mm_cvtsi32_si128(static_cast<int>(64 - word_bits));
  const auto* words = reinterpret_cast<const long long*>(filter);
  size_t i = 0;
  for (; i + 3 * stride + 8 <= n; i += 4 * stride) {
    uint64_t a0, a1, a2, a3;
    std::memcpy(&a0, p + i, 8);
    std::memcpy(&a1, p + i + stride, 8);
    std::memcpy(&a2, p + i + 2 * stride, 8);
    std::memcpy(&a3, p + i + 3 * stride, 8);
    const __m256i v = _mm256_and_si256(
        _mm256_set_epi64x(static_cast<long long>(a3), static_cast<long long>(a2),
                          static_cast<long long>(a1), static_cast<long long>(a0)),
        keep_v);
    // c = low32 ^ (high32 * kFold32) in the low half of each lane (the high half is ignored).
    const __m256i c = _mm256_xor_si256(v, _mm256_mullo_epi32(_mm256_srli_epi64(v, 32), fold));
    const __m256i h = _mm256_slli_epi64(_mm256_mullo_epi32(c, word_hash), 32);
    const __m256i g = _mm256_slli_epi64(_mm256_mullo_epi32(c, bits_hash), 32);
    const __m256i word = _mm256_i64gather_epi64(words, _mm256_srl_epi64(h, word_shift), 8);
    const __m256i bits = _mm256_or_si256(
        _mm256_sllv_epi64(one, _mm256_srli_epi64(g, 58)),
        _mm256_sllv_epi64(one, _mm256_and_si256(_mm256_srli_epi64(g, 52), low6)));
    const __m256i hit = _mm256_cmpeq_epi64(_mm256_andnot_si256(word, bits), _mm256_setzero_si256());
    const int lanes = _mm256_movemask_pd(_mm256_castsi256_pd(hit));
    if (lanes != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(lanes))) * stride;
  }
  return i;
}
#else
bool CpuHasAvx2() { return false; }
#endif

}  // namespace

class PatternSet {
 public:
  PatternSet() = default;
  PatternSet(const PatternSet&) = delete;
  PatternSet& operator=(const PatternSet&) = delete;
  ~PatternSet() {
    WipeVector(labels_);
    WipeVector(targets_);
    WipeVector(edge_begin_);
    WipeVector(fail_);
    WipeVector(depth_);
    WipeVector(match_len_);
    WipeVector(filter_);
    explicit_bzero(root_next_.data(), sizeof(root_next_));
  }

  void Build(std::vector<std::string>& patterns, bool simd);

  // Aho-Corasick transition (goto with failure links). Amortised O(1) per byte.
  uint32_t Step(uint32_t s, uint8_t c) const {
    while (s != 0) {
      const uint32_t b = edge_begin_[s];
      const uint32_t e = edge_begin_[s + 1];
      if (e - b <= 8) {
        for (uint32_t i = b; i < e; ++i) {
          if (labels_[i] == c) return targets_[i];
        }
      } else {
        const uint8_t* first = labels_.data() + b;
        const uint8_t* last = labels_.data() + e;
        const uint8_t* it = std::lower_bound(first, last, c);
        if (it != last && *it == c) return targets_[b + static_cast<uint32_t>(it - labels_.data() - b)];
      }
      s = fail_[s];
    }
    return root_next_[c];
  }

  // One sample (q bytes at p): outside the skip loop, where the automaton decides whether it
  // may go back to skipping.
  bool SampleHit(const uint8_t* p) const {
    uint64_t v = 0;
    std::memcpy(&v, p, q_);
    const Probe probe = ProbeOf(v);
    return (filter_[probe.word] & probe.bits) == probe.bits;
  }

  // The skip loop: the first sample at p, p + stride, ... (each with q bytes before `end`)
  // that hits the filter, or the first sample position whose q-gram does not fit before `end`.
  // The hot loop of the matcher on output without secrets, hence one instance per common q
  // with everything it reads in registers (SampleHit reloads the set's fields per call).
  const uint8_t* FirstHit(const uint8_t* p, const uint8_t* end) const {
    // AVX2 where Build chose it, else the scalar loop for the two q-gram lengths Build
    // chooses; each stops at a hit or before its loads would pass `end`. The loop below tests
    // from there: the last samples, and every sample for shorter q-grams (secrets shorter than
    // 4 bytes, only with a lowered min_length).
    if (hash_ == FilterHash::kVector) {
#if defined(__x86_64__)
      p += FirstHitAvx2(p, static_cast<size_t>(end - p), stride_, QGramMask(q_), filter_.data(),
                        word_bits_);
#endif
    } else if (q_ == kManyPatternsQ) {
      p = FirstHitQ<kManyPatternsQ>(p, end);
    } else if (q_ == kFewPatternsQ) {
      p = FirstHitQ<kFewPatternsQ>(p, end);
    }
    for (; end - p >= static_cast<ptrdiff_t>(q_); p += stride_) {
      if (SampleHit(p)) return p;
    }
    return p;
  }

  size_t pattern_count_ = 0;
  size_t max_len_ = 0;
  size_t min_len_ = 0;
  size_t skipped_ = 0;
  std::string replacement_;

  size_t q_ = 0;       // q-gram length
  size_t stride_ = 0;  // sample stride S
  unsigned word_bits_ = 0;  // log2 of the filter's word count
  FilterHash hash_ = FilterHash::kScalar;

 private:
  template <size_t Q>
  const uint8_t* FirstHitQ(const uint8_t* p, const uint8_t* end) const {
    // Loads of L bytes (4 or 8, masked to Q) while L bytes are there. Returns the first sample
    // that hits, or the first it did not test (FirstHit tests the rest).
    constexpr size_t L = Q <= 4 ? 4 : 8;
    constexpr uint64_t kKeep = QGramMask(Q);
    const uint64_t* const filter = filter_.data();
    const unsigned word_bits = word_bits_;
    const size_t stride = stride_;
    const auto miss = [&](size_t at) {
      uint64_t v;
      if constexpr (L == 8) {
        std::memcpy(&v, p + at, 8);
        v &= kKeep;
      } else {
        uint32_t w;
        std::memcpy(&w, p + at, 4);
        v = w & kKeep;
      }
      const Probe probe = ProbeScalar(v, word_bits);
      return (~filter[probe.word] & probe.bits) != 0;
    };
    size_t i = 0;
    if (end - p >= static_cast<ptrdiff_t>(L)) {
      const size_t last = static_cast<size_t>(end - p) - L;  // the last offset L bytes fit at
      // Two samples per test: one branch for both (nearly every sample misses).
      for (; i + stride <= last; i += 2 * stride) {
        if (!(miss(i) & miss(i + stride))) break;
      }
      for (; i <= last; i += stride) {
        if (!miss(i)) break;
      }
    }
    return p + i;
  }

 public:

  std::vector<uint32_t> depth_;
  std::vector<uint32_t> match_len_;  // longest pattern ending at this state, 0 if none

 private:
  void AddToFilter(const uint8_t* p) {
    uint64_t v = 0;
    std::memcpy(&v, p, q_);
    const Probe probe = ProbeOf(v);
    filter_[probe.word] |= probe.bits;
  }
  Probe ProbeOf(uint64_t v) const {
    return hash_ == FilterHash::kVector ? ProbeVector(v, word_bits_) : ProbeScalar(v, word_bits_);
  }

  std::array<uint32_t, 256> root_next_{};
  std::vector<uint32_t> edge_begin_;  // CSR: edges of state s are [edge_begin_[s], [s+1])
  std::vector<uint8_t> labels_;       // sorted per state
  std::vector<uint32_t> targets_;
  std::vector<uint32_t> fail_;
  std::vector<uint64_t> filter_;
};

void PatternSet::Build(std::vector<std::string>& patterns, bool simd) {
  internal::SortUnique(patterns);
  pattern_count_ = patterns.size();
  if (patterns.empty()) return;

  // Trie by insertion in sorted order: a state's children are created in increasing byte
  // order, and the path of the next pattern always continues through the last child.
  std::vector<std::vector<std::pair<uint8_t, uint32_t>>> children(1);
  std::vector<uint32_t> own_len(1, 0);
  depth_.assign(1, 0);
  min_len_ = patterns.front().size();
  for (const std::string& p : patterns) {
    max_len_ = std::max(max_len_, p.size());
    min_len_ = std::min(min_len_, p.size());
    uint32_t s = 0;
    for (char ch : p) {
      const auto c = static_cast<uint8_t>(ch);
      auto& kids = children[s];
      if (!kids.empty() && kids.back().first == c) {
        s = kids.back().second;
        continue;
      }
      const auto next = static_cast<uint32_t>(children.size());
      kids.emplace_back(c, next);
      children.emplace_back();
      own_len.push_back(0);
      depth_.push_back(depth_[s] + 1);
      s = next;
    }
    own_len[s] = static_cast<uint32_t>(p.size());
  }

  const size_t states = children.size();
  edge_begin_.assign(states + 1, 0);
  for (size_t s = 0; s < states; ++s) {
    edge_begin_[s + 1] = edge_begin_[s] + static_cast<uint32_t>(children[s].size());
  }
  labels_.resize(edge_begin_[states]);
  targets_.resize(edge_begin_[states]);
  for (size_t s = 0; s < states; ++s) {
    uint32_t e = edge_begin_[s];
    for (const auto& [c, t] : children[s]) {
      labels_[e] = c;
      targets_[e++] = t;
    }
  }
  for (const auto& [c, t] : children[0]) root_next_[c] = t;

  // Failure links in breadth-first order, so Step() only uses links already computed.
  fail_.assign(states, 0);
  match_len_.assign(states, 0);
  std::vector<uint32_t> queue;
  queue.reserve(states);
  for (const auto& [c, t] : children[0]) {
    queue.push_back(t);
    match_len_[t] = own_len[t];
  }
  for (size_t head = 0; head < queue.size(); ++head) {
    const uint32_t u = queue[head];
    for (const auto& [c, v] : children[u]) {
      fail_[v] = Step(fail_[u], c);
      match_len_[v] = std::max(own_len[v], match_len_[fail_[v]]);
      queue.push_back(v);
    }
  }
  for (auto& kids : children) {
    if (!kids.empty()) explicit_bzero(kids.data(), kids.size() * sizeof(kids[0]));
  }

  // The skip filter.
  const size_t window = std::min(min_len_, kMaxWindow);
  // Short q-grams give longer strides (fewer samples) but, with many patterns, more samples
  // that hit by chance and run the automaton: 4 bytes for a few secrets, 5 for many. Measured
  // with bench/mask (1000 patterns, the unrolled skip loop): q = 5 gave 5.1-5.3 GB/s on log
  // text where 8 gave 3.8-4.5 and 4 gave 3.5 (hex ids in the text hit the hex patterns' 4-grams).
  q_ = std::min(window, patterns.size() > kManyPatterns ? kManyPatternsQ : kFewPatternsQ);
  stride_ = window - q_ + 1;
  const size_t entries = patterns.size() * stride_;
  unsigned bits = 12;
  while (bits < 22 && (size_t{1} << bits) < entries * 32) ++bits;
  word_bits_ = bits - 6;  // 2^bits bits in 2^(bits - 6) words
  // The AVX2 loop where the CPU has it (q fits its 8-byte loads: q <= kMaxQ).
  hash_ = simd && CpuHasAvx2() ? FilterHash::kVector : FilterHash::kScalar;
  filter_.assign((size_t{1} << bits) / 64, 0);
  for (const std::string& p : patterns) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(p.data());
    for (size_t k = 0; k < stride_; ++k) AddToFilter(bytes + k);
  }
}

std::shared_ptr<const PatternSet> Compile(const std::vector<const SecretBytes*>& secrets,
                                          const Options& options) {
  auto set = std::make_shared<PatternSet>();
  set->replacement_ = options.replacement;
  std::vector<std::string> patterns;
  patterns.reserve(secrets.size() * 40);
  const size_t min_length = std::max<size_t>(options.min_length, 1);
  for (const SecretBytes* secret : secrets) {
    if (secret == nullptr) continue;
    if (secret->size() < min_length) {
      ++set->skipped_;
      continue;
    }
    internal::ExpandInto(secret->Reveal(), options, patterns);
  }
  set->Build(patterns, options.simd);
  for (std::string& p : patterns) internal::WipeString(p);
  return set;
}

size_t PatternCount(const PatternSet& set) { return set.pattern_count_; }
size_t MaxPatternLength(const PatternSet& set) { return set.max_len_; }
size_t MinPatternLength(const PatternSet& set) { return set.min_len_; }
size_t SkippedSecretCount(const PatternSet& set) { return set.skipped_; }
bool UsesSimd(const PatternSet& set) { return set.hash_ == FilterHash::kVector; }

// Stream positions are absolute offsets in the stream (uint64). Bytes before `resolved` have
// been emitted (or replaced); [resolved, pos) are held: their bytes live in `held` between
// Feeds. `marks` are the merged matched intervals inside the held region.
struct Redactor::State {
  struct Interval {
    uint64_t start;
    uint64_t end;
  };

  std::shared_ptr<const PatternSet> set;
  uint32_t node = 0;
  uint64_t pos = 0;
  uint64_t resolved = 0;
  bool prev_was_mask = false;  // the last thing emitted was a replacement
  uint64_t next_sample = 0;    // samples in [root entry, next_sample) were tested; a multiple
                               // of the stride, like every sample position
  uint64_t window_end = 0;     // last hit sample + 1: starts before it may be candidates
  std::vector<Interval> marks;
  size_t marks_head = 0;
  std::unique_ptr<char[]> held;
  size_t held_cap = 0;
  size_t held_len = 0;
  // The current Feed's input.
  const uint8_t* in = nullptr;
  uint64_t in_base = 0;
  uint64_t in_end = 0;

  ~State() {
    if (held) explicit_bzero(held.get(), held_cap);
  }

  template <class Out>
  void EmitRaw(uint64_t from, uint64_t to, Out& out) const {
    if (from >= to) return;
    if (from < in_base) {
      const uint64_t held_base = in_base - held_len;
      const uint64_t stop = std::min(to, in_base);
      AppendHeld(out, held.get() + (from - held_base), stop - from);
      from = stop;
    }
    if (from < to) {
      AppendStable(out, reinterpret_cast<const char*>(in) + (from - in_base), to - from);
    }
  }

  void AddMark(uint64_t start, uint64_t end) {
    // Bytes before `resolved` that a match covers were already replaced (raw bytes are only
    // emitted below the automaton's safe point, where no match can start).
    start = std::max(start, resolved);
    if (start >= end) return;
    while (marks.size() > marks_head && marks.back().end >= start) {
      start = std::min(start, marks.back().start);
      marks.pop_back();
    }
    marks.push_back({start, end});
  }

  // Emits everything before `safe` (no match can start there any more) and every marked run
  // that starts at or before it (it cannot grow backwards; growing forwards merges through
  // prev_was_mask).
  template <class Out>
  void Resolve(uint64_t safe, Out& out) {
    while (marks_head < marks.size()) {
      const Interval iv = marks[marks_head];
      if (iv.start > std::max(safe, resolved)) break;
      if (iv.start > resolved) {
        EmitRaw(resolved, iv.start, out);
        prev_was_mask = false;
      }
      if (!prev_was_mask) {
        AppendStable(out, set->replacement_.data(), set->replacement_.size());
        prev_was_mask = true;
      }
      resolved = iv.end;
      ++marks_head;
    }
    if (marks_head == marks.size()) {
      marks.clear();
      marks_head = 0;
    }
    if (safe > resolved) {
      EmitRaw(resolved, safe, out);
      prev_was_mask = false;
      resolved = safe;
    }
  }

  // The first sample position at or after x that is not tested yet: max(next_sample, x rounded
  // up to the stride), without the division when next_sample is already there (the common
  // case: this runs for every byte the automaton reads, and a 64-bit division costs more than
  // the rest of that step).
  uint64_t FirstSampleFrom(uint64_t x) const {
    return next_sample >= x ? next_sample : RoundUp(x, set->stride_);
  }

  // In automaton mode at `pos`: may we drop the pending prefix and go back to skipping? Only
  // if no hit sample's window reaches the pending starts [pos-depth, pos).
  bool CanReturnToRoot() {
    const PatternSet& ps = *set;
    const uint64_t pending_start = pos - ps.depth_[node];
    if (pending_start < window_end) return false;
    uint64_t p = FirstSampleFrom(pending_start);
    while (p + 1 < pos + ps.stride_) {  // windows [p-S+1, p] that start before pos
      if (p < in_base || p + ps.q_ > in_end) {
        next_sample = p;
        return false;
      }
      if (ps.SampleHit(in + (p - in_base))) {
        window_end = p + 1;
        next_sample = p + ps.stride_;
        return false;
      }
      p += ps.stride_;
    }
    next_sample = p;
    return true;
  }

  template <class Out>
  void Scan(Out& out) {
    const PatternSet& ps = *set;
    const uint64_t stride = ps.stride_;
    while (pos < in_end) {
      if (node == 0 && pos >= window_end) {
        // Skip mode: test samples until one hits; the automaton restarts at its window. (At
        // the root but inside the last hit's window, the automaton must go on: that sample is
        // behind next_sample and would not be looked at again.)
        uint64_t p = FirstSampleFrom(pos);
        bool hit = false;
        if (p + ps.q_ <= in_end) {
          const uint8_t* at = in + (p - in_base);
          const uint8_t* found = ps.FirstHit(at, in + (in_end - in_base));
          p += static_cast<uint64_t>(found - at);
          hit = p + ps.q_ <= in_end;
        }
        const uint64_t window_start = p + 1 >= stride ? p + 1 - stride : 0;
        if (hit) {
          window_end = p + 1;
          next_sample = p + stride;
        } else {
          next_sample = p;
        }
        pos = std::min(in_end, std::max(pos, window_start));
        if (pos >= in_end) break;
      }
      // Automaton mode.
      node = ps.Step(node, in[pos - in_base]);
      ++pos;
      const uint32_t len = ps.match_len_[node];
      if (len != 0) {
        AddMark(pos - len, pos);
        Resolve(pos - ps.depth_[node], out);
      }
      if (CanReturnToRoot()) node = 0;
    }
  }

  void SaveHeld() {
    const uint64_t keep = in_end - resolved;
    const uint64_t held_base = in_base - held_len;
    if (keep > held_cap) {
      // Cannot happen (the automaton depth bounds what is held, see Resolve); if it ever
      // did, grow rather than drop or emit bytes.
      auto bigger = std::make_unique<char[]>(keep);
      std::memcpy(bigger.get(), held.get(), held_len);
      explicit_bzero(held.get(), held_cap);
      held = std::move(bigger);
      held_cap = keep;
    }
    size_t n = 0;
    if (resolved < in_base) {
      n = in_base - resolved;
      std::memmove(held.get(), held.get() + (resolved - held_base), n);
    }
    const uint64_t from = std::max(resolved, in_base);
    if (in_end > from) {
      std::memcpy(held.get() + n, in + (from - in_base), in_end - from);
      n += in_end - from;
    }
    if (held_len > n) explicit_bzero(held.get() + n, held_len - n);
    held_len = n;
    in = nullptr;
    in_base = in_end;
  }
};

Redactor::Redactor(std::shared_ptr<const PatternSet> patterns) : state_(std::make_unique<State>()) {
  state_->set = std::move(patterns);
  if (state_->set && state_->set->pattern_count_ != 0) {
    state_->held_cap = state_->set->max_len_;
    state_->held = std::make_unique<char[]>(state_->held_cap);
    state_->marks.reserve(state_->set->max_len_ / 2 + 2);
  }
}

Redactor::~Redactor() = default;
Redactor::Redactor(Redactor&&) noexcept = default;
Redactor& Redactor::operator=(Redactor&&) noexcept = default;

template <class Out>
void Redactor::FeedTo(std::string_view in, Out& out) {
  if (!state_ || !state_->set || state_->set->pattern_count_ == 0) {
    AppendStable(out, in.data(), in.size());
    return;
  }
  State& st = *state_;
  st.in = reinterpret_cast<const uint8_t*>(in.data());
  st.in_base = st.pos;
  st.in_end = st.pos + in.size();
  st.Scan(out);
  st.Resolve(st.pos - st.set->depth_[st.node], out);
  st.SaveHeld();
}

template <class Out>
void Redactor::FinishTo(Out& out) {
  if (!state_ || !state_->set || state_->set->pattern_count_ == 0) return;
  State& st = *state_;
  st.in = nullptr;
  st.in_base = st.in_end = st.pos;
  st.Resolve(st.pos, out);
  st.SaveHeld();
  st.node = 0;
  st.prev_was_mask = false;
}

void Redactor::Feed(std::string_view in, std::string& out) { FeedTo(in, out); }
void Redactor::Feed(std::string_view in, OutputSpans& out) { FeedTo(in, out); }
void Redactor::Finish(std::string& out) { FinishTo(out); }
void Redactor::Finish(OutputSpans& out) { FinishTo(out); }

OutputSpans::~OutputSpans() {
  if (!own_.empty()) explicit_bzero(own_.data(), own_.size());
}

void OutputSpans::clear() {
  pieces_.clear();
  // The copies are output already passed on (masked where needed); still not left lying around.
  if (!own_.empty()) explicit_bzero(own_.data(), own_.size());
  own_.clear();
  bytes_ = 0;
}

void OutputSpans::AppendRef(std::string_view bytes) {
  if (bytes.empty()) return;
  bytes_ += bytes.size();
  if (!pieces_.empty()) {
    Piece& last = pieces_.back();
    if (last.ref != nullptr && last.ref + last.size == bytes.data()) {
      last.size += bytes.size();  // a run of the input continued (e.g. across a resolved mark)
      return;
    }
  }
  pieces_.push_back({bytes.data(), 0, bytes.size()});
}

void OutputSpans::AppendCopy(std::string_view bytes) {
  if (bytes.empty()) return;
  bytes_ += bytes.size();
  if (!pieces_.empty() && pieces_.back().ref == nullptr) {
    pieces_.back().size += bytes.size();  // copies are contiguous in own_
  } else {
    pieces_.push_back({nullptr, own_.size(), bytes.size()});
  }
  own_.append(bytes);
}

std::string_view OutputSpans::span(size_t i) const {
  const Piece& p = pieces_[i];
  if (p.ref != nullptr) return std::string_view(p.ref, p.size);
  return std::string_view(own_.data() + p.offset, p.size);
}

std::string OutputSpans::ToString() const {
  std::string s;
  s.reserve(bytes_);
  for (size_t i = 0; i < pieces_.size(); ++i) s.append(span(i));
  return s;
}

size_t Redactor::held_bytes() const { return state_ ? state_->held_len : 0; }

}  // namespace jitsec::mask
