// Google Benchmark for the matcher: MB/s through one Redactor with 1, 10 and 100 secrets on
// log-like text, with secrets sprinkled in, and on worst-case text (long runs that keep the
// automaton busy). Run: build-*/bench/mask/jitsec_mask_bench
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_text.h"
#include "mask/redactor.h"

namespace jitsec::mask::bench {
namespace {

constexpr size_t kChunk = 64 * 1024;

std::shared_ptr<const PatternSet> CompileSecrets(const std::vector<std::string>& values,
                                                 bool simd = true) {
  std::vector<SecretBytes> secrets;
  for (const auto& v : values) secrets.emplace_back(v);
  std::vector<const SecretBytes*> ptrs;
  for (const auto& s : secrets) ptrs.push_back(&s);
  return Compile(ptrs, Options{.simd = simd});
}

void RunRedactor(benchmark::State& state, const std::shared_ptr<const PatternSet>& set,
                 const std::string& text) {
  Redactor r(set);
  std::string out;
  out.reserve(kChunk + 1024);
  for (auto _ : state) {
    for (size_t at = 0; at < text.size(); at += kChunk) {
      out.clear();
      r.Feed(std::string_view(text).substr(at, kChunk), out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["patterns"] = static_cast<double>(PatternCount(*set));
}

void BM_LogText(benchmark::State& state) {
  auto values = MakeSecrets(static_cast<size_t>(state.range(0)));
  auto set = CompileSecrets(values);
  RunRedactor(state, set, MakeLogText(8 << 20));
}

// The same with the skip filter's scalar loop (Options::simd = false), for comparison on a CPU
// with AVX2 (elsewhere both are the scalar loop).
void BM_LogTextScalar(benchmark::State& state) {
  auto values = MakeSecrets(static_cast<size_t>(state.range(0)));
  auto set = CompileSecrets(values, /*simd=*/false);
  RunRedactor(state, set, MakeLogText(8 << 20));
}

void BM_LogTextWithSecrets(benchmark::State& state) {
  auto values = MakeSecrets(static_cast<size_t>(state.range(0)));
  auto set = CompileSecrets(values);
  std::string text = MakeLogText(8 << 20);
  // One secret every ~4 KiB.
  for (size_t at = 1000, i = 0; at + 64 < text.size(); at += 4096, ++i) {
    const std::string& s = values[i % values.size()];
    text.replace(at, s.size(), s);
  }
  RunRedactor(state, set, text);
}

void BM_WorstCaseRun(benchmark::State& state) {
  // Long runs of one character against secrets made (almost) of it: every sample hits, the
  // automaton runs on every byte.
  auto set = CompileSecrets({"aaaaaaab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaac"});
  RunRedactor(state, set, std::string(8 << 20, 'a'));
}

void BM_WorstCaseSecretAlphabet(benchmark::State& state) {
  // Text drawn from the secrets' own alphabet (random alphanumerics, like base64 blobs).
  auto values = MakeSecrets(static_cast<size_t>(state.range(0)));
  auto set = CompileSecrets(values);
  std::string text = MakeSecrets(1, 99)[0];
  text = "";
  for (const auto& s : MakeSecrets((8 << 20) / 28, 1234)) text += s;
  RunRedactor(state, set, text);
}

BENCHMARK(BM_LogText)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LogTextScalar)->Arg(1)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LogTextWithSecrets)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WorstCaseRun)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WorstCaseSecretAlphabet)->Arg(100)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace jitsec::mask::bench

BENCHMARK_MAIN();
