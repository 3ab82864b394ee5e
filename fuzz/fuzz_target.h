// One fuzz target, two builds: with HERALD_FUZZ_REPLAY unset (the clang build of `make fuzz`) a
// target is libFuzzer's entry point; with it set (the normal build) every target registers under
// its name, so that one replay executable runs all the seed corpora and regressions as a test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace herald::fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);

#ifdef HERALD_FUZZ_REPLAY
// Registers `fn` under `name` (the fuzz/corpus/<name> directory); used by HERALD_FUZZ_TARGET.
bool register_target(std::string_view name, TargetFn fn);
#endif

// An invariant of a target: a broken one is a finding, so it must stop the run (libFuzzer then
// saves the input) and say which invariant it was.
[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, file, line);
  std::abort();
}

}  // namespace herald::fuzz

#define FUZZ_CHECK(cond) ((cond) ? (void)0 : ::herald::fuzz::invariant_failed(#cond, __FILE__, __LINE__))

#ifdef HERALD_FUZZ_REPLAY
#define HERALD_FUZZ_TARGET(name)                                             \
  static int herald_fuzz_##name(const std::uint8_t* data, std::size_t size); \
  [[maybe_unused]] static const bool herald_fuzz_registered_##name =         \
      ::herald::fuzz::register_target(#name, herald_fuzz_##name);            \
  static int herald_fuzz_##name(const std::uint8_t* data, std::size_t size)
#else
#define HERALD_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
#endif
