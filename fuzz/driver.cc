// Replay driver for fuzz targets built without libFuzzer (g++ has none).
// It feeds every file of the given corpus directories to LLVMFuzzerTestOneInput, then runs a
// bounded, seeded mutation loop over them (byte flips, inserts, deletes, splices) so that CTest
// exercises each parser beyond its seeds. Build the `fuzz` preset for coverage-guided fuzzing.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/random.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> load_corpus(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(d, ec)) {
      std::ifstream f(d, std::ios::binary);
      out.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
      continue;
    }
    if (!std::filesystem::is_directory(d, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(d, ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      std::ifstream f(p, std::ios::binary);
      out.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
  }
  return out;
}

std::string mutate(llmd::Rng& rng, const std::vector<std::string>& corpus, std::string s) {
  const int rounds = 1 + static_cast<int>(rng.below(4));
  for (int r = 0; r < rounds; ++r) {
    switch (rng.below(6)) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng.below(s.size())] ^= static_cast<char>(1u << rng.below(8));
        break;
      case 1:  // insert a random byte
        s.insert(s.begin() + static_cast<long>(rng.below(s.size() + 1)), static_cast<char>(rng.below(256)));
        break;
      case 2:  // delete a range
        if (!s.empty()) {
          size_t at = rng.below(s.size());
          s.erase(at, 1 + rng.below(std::min<size_t>(16, s.size() - at)));
        }
        break;
      case 3:  // splice another seed
        if (!corpus.empty()) {
          const auto& o = corpus[rng.below(corpus.size())];
          if (!o.empty()) {
            size_t from = rng.below(o.size());
            s.insert(rng.below(s.size() + 1), o.substr(from, 1 + rng.below(o.size() - from)));
          }
        }
        break;
      case 4:  // duplicate a range
        if (!s.empty()) {
          size_t at = rng.below(s.size());
          s.insert(at, s.substr(at, 1 + rng.below(std::min<size_t>(64, s.size() - at))));
        }
        break;
      default:  // replace a byte with an interesting one
        if (!s.empty()) {
          static const char kInteresting[] = {'\0', '\n', '\r',   '"',    '\\', '{', '}', '[', ']', ':',
                                              ',',  ' ',  '\xff', '\x80', '#',  '-', '.', 'e', '0', '9'};
          s[rng.below(s.size())] = kInteresting[rng.below(sizeof(kInteresting))];
        }
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 10000;
  uint64_t seed = 1;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--iterations=", 13) == 0) {
      iterations = std::strtol(argv[i] + 13, nullptr, 10);
    } else if (std::strncmp(argv[i], "--seed=", 7) == 0) {
      seed = std::strtoull(argv[i] + 7, nullptr, 10);
    } else {
      dirs.emplace_back(argv[i]);
    }
  }
  auto corpus = load_corpus(dirs);
  for (const auto& c : corpus) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  if (corpus.empty()) corpus.emplace_back();
  llmd::Rng rng(seed);
  for (long i = 0; i < iterations; ++i) {
    std::string input = mutate(rng, corpus, corpus[rng.below(corpus.size())]);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("fuzz replay: %zu seeds, %ld mutations, no crash\n", corpus.size(), iterations);
  return 0;
}
