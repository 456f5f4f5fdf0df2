// Byte strings appended one after another into 64 KB blocks, addressed by position (issue 16:
// the packed report model). A city's report packs ~34,000 action-list items and ~860 scores:
// as many small live allocations, they pinned the free chunks of the work between them, and
// malloc spent a fifth of a report sorting those holes (bench/RESULTS.md, twelfth session);
// in a few blocks, the work's chunks coalesce. A string longer than a block gets its own block.
// Thread-safety: a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace danvan {

class ByteArena {
 public:
  static constexpr size_t kBlock = 64 * 1024;

  // Where the next Append(n bytes) starts; the bytes follow one another within the block.
  uint64_t Append(std::string_view bytes) {
    if (blocks_.empty() || blocks_.back().capacity() - blocks_.back().size() < bytes.size()) {
      blocks_.emplace_back();
      blocks_.back().reserve(bytes.size() > kBlock ? bytes.size() : kBlock);
    }
    std::string& b = blocks_.back();
    const uint64_t pos = (static_cast<uint64_t>(blocks_.size() - 1) << 32) | b.size();
    b.append(bytes);
    return pos;
  }
  const char* At(uint64_t pos) const { return blocks_[pos >> 32].data() + (pos & 0xFFFFFFFFu); }
  void clear() { blocks_.clear(); }
  size_t memory_bytes() const {
    size_t n = blocks_.capacity() * sizeof(std::string);
    for (const std::string& b : blocks_) n += b.capacity() + 1;
    return n;
  }

 private:
  std::vector<std::string> blocks_;
};

}  // namespace danvan
