#pragma once
// The cheap "has this unpacked layer changed?" check made before a layer becomes a lower of a
// RUN step or a container (issue 11, finding 3). A full re-hash of diff/ (fsck, reuse of an
// existing layer) costs a tar of the layer; this costs one lstat per entry: the stamp is the
// entry count, the bytes of regular files and the newest ctime in diff/. Any write, chmod,
// chown, rename, create or unlink in diff/ moves some ctime to "now", and ctime cannot be set
// back by a user, so a changed stamp means the tree was touched.
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

namespace imgbuild::layerstore {

struct LayerInfo;
class Store;

struct DirStamp {
    uint64_t entries = 0;
    uint64_t bytes = 0;
    int64_t newest_ctime_ns = 0;
    friend bool operator==(const DirStamp& a, const DirStamp& b) {
        return a.entries == b.entries && a.bytes == b.bytes && a.newest_ctime_ns == b.newest_ctime_ns;
    }
    friend bool operator!=(const DirStamp& a, const DirStamp& b) { return !(a == b); }
};

// Walks `dir` (not following symlinks), on `threads` threads (1 or 2). Throws SystemError
// naming the path on failure.
[[nodiscard]] DirStamp stamp_dir(const std::filesystem::path& dir, unsigned threads = 1);
// The threads worth a walk of a tree of about `expected_entries` (its recorded stamp): two from
// kTwoThreadStampEntries on, where a thread's start (~0.1 ms) is a small part of the walk
// (~1.5 us an entry on this VM: W7's 10k-entry base takes 15 ms on one thread).
inline constexpr uint64_t kTwoThreadStampEntries = 2000;
[[nodiscard]] unsigned stamp_threads_for(uint64_t expected_entries);
// Counts one entry (its lstat) into a stamp: what stamp_dir does for each entry, `dir` included.
void add_to_stamp(DirStamp& s, const struct stat& st);

[[nodiscard]] nlohmann::json stamp_to_json(const DirStamp& s);
[[nodiscard]] DirStamp stamp_from_json(const nlohmann::json& j);

// Before a layer is used as a lower: its stamp is compared with the recorded one. When they
// disagree, diff/ is re-hashed against its recorded digest: unchanged (e.g. a copy that kept
// the content) re-records the stamp; changed or missing, the layer is replaced from its stored
// blob when the store has one, else CorruptError "layer ID: diff/ has changed ...; run
// `imgbuild fsck --repair`". A layer recorded before stamps existed gets one recorded.
// Returns the layer as it is now.
LayerInfo verify_layer_for_use(const Store& store, const LayerInfo& layer);

}  // namespace imgbuild::layerstore
