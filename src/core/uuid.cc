#include "caboose/core/uuid.h"

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <string>

namespace caboose {

namespace {

// Bumped in the child of every fork(), so a forked process never repeats its parent's uuids
// (the generator's state is copied by fork).
std::atomic<unsigned> fork_generation{0};
const int kAtForkRegistered =
    pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });

std::mt19937_64 seeded() {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device()};
  return std::mt19937_64(seed);
}

}  // namespace

std::string make_uuid() {
  (void)kAtForkRegistered;
  thread_local std::mt19937_64 engine = seeded();
  thread_local unsigned generation = fork_generation.load();
  if (const unsigned now = fork_generation.load(std::memory_order_relaxed); now != generation) {
    engine = seeded();
    generation = now;
  }
  std::uint64_t high = engine();
  std::uint64_t low = engine();
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;    // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(36, '-');
  int bit = 60;
  std::size_t pos = 0;
  auto put = [&](std::uint64_t word, int digits) {
    for (int i = 0; i < digits; ++i, bit -= 4) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
        ++pos;
      }
      text[pos++] = kHex[(word >> bit) & 0xf];
    }
  };
  put(high, 16);
  bit = 60;
  put(low, 16);
  return text;
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') {
        return false;
      }
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace caboose
