// The fuzz targets as a test: replays every file of fuzz/corpus/<name> and fuzz/regressions/<name>
// through the target, so the seeds and every fixed crash's reproducer run on each `make test`.
// Usage: herald_fuzz_replay <fuzz dir> [target name]; no name replays every target.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fuzz_target.h"

namespace herald::fuzz {
namespace {

std::map<std::string, TargetFn, std::less<>>& targets() {
  static std::map<std::string, TargetFn, std::less<>> t;
  return t;
}

// Files in name order, so a failure names the same input every run.
std::vector<std::filesystem::path> inputs(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

int replay(const std::filesystem::path& root, const std::string& name, TargetFn fn) {
  int n = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    for (const auto& file : inputs(root / kind / name)) {
      std::ifstream in(file, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::fprintf(stderr, "%s: %s\n", name.c_str(), file.filename().c_str());
      fn(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++n;
    }
  }
  // libFuzzer always runs the empty input first; so does the replay.
  fn(reinterpret_cast<const std::uint8_t*>(""), 0);
  std::printf("%s: %d inputs replayed\n", name.c_str(), n);
  return n;
}

}  // namespace

bool register_target(std::string_view name, TargetFn fn) {
  return targets().emplace(std::string(name), fn).second;
}

}  // namespace herald::fuzz

int main(int argc, char** argv) {
  using herald::fuzz::targets;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <fuzz dir> [target]\n", argv[0]);
    return 2;
  }
  std::filesystem::path root = argv[1];
  if (argc >= 3) {
    auto it = targets().find(std::string_view(argv[2]));
    if (it == targets().end()) {
      std::fprintf(stderr, "no fuzz target named %s\n", argv[2]);
      return 2;
    }
    // A target with no seeds at all is a mistake in the tree, not a pass.
    return herald::fuzz::replay(root, it->first, it->second) > 0 ? 0 : 1;
  }
  for (const auto& [name, fn] : targets())
    if (herald::fuzz::replay(root, name, fn) == 0) return 1;
  return 0;
}
