#pragma once
// Content hashes of context files, remembered across builds so that an unchanged file is
// never read again: keyed by (dev, inode, size, mtime_ns, ctime_ns). Any write to a file
// changes its ctime, so an edit that restores size and mtime still misses the cache.
//
// Racy entries (the file changed in the same clock tick as we hashed it, so a later edit
// could keep the same ctime) are never trusted and never saved: the file is hashed again.
//
// Memory stays bounded whatever the number of files (issue 11, finding 11): the cache lives on
// disk as one sorted file of fixed-size binary records, searched through a sparse in-memory
// index (one key in kIndexStride) and one pread of a block per lookup. New entries collect
// in memory up to kPendingMax, then go to a sorted spill file; save() merges the old file,
// the spills and what is pending into a new file (temp file + rename, only when something
// changed). A spilled entry is found again from the next build on. Bounded on disk: when the
// cache would exceed max_entries, entries not used since load are dropped at save.
// Thread-safe.
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.h"

#include "common/digest.h"

namespace imgbuild::builder {

class FileHashCache {
public:
    static constexpr size_t kDefaultMaxEntries = 100'000;

    // In memory only (save() does nothing).
    FileHashCache() = default;
    // Loads `file` when it exists; a missing, unreadable or corrupt file starts empty (a
    // warning is logged for corrupt ones: the cache is only an optimization).
    explicit FileHashCache(std::filesystem::path file, size_t max_entries = kDefaultMaxEntries);
    FileHashCache(const FileHashCache&) = delete;
    FileHashCache& operator=(const FileHashCache&) = delete;

    // sha256 of the content of the regular file `name` in dirfd, whose lstat is `st`.
    // Reads the file only on a miss (then re-checks that it did not change while read).
    // Throws SystemError naming `path_for_errors` when it cannot be read.
    [[nodiscard]] Digest file_digest(int dirfd, const char* name, const struct stat& st,
                                     const std::string& path_for_errors);
    // Same for an already open file (read through pread; the offset is not moved).
    [[nodiscard]] Digest fd_digest(int fd, const struct stat& st, const std::string& path_for_errors);

    // Writes the cache file if anything changed since load. Throws Error on failure.
    void save();

    [[nodiscard]] size_t size() const;
    [[nodiscard]] uint64_t hits() const { return hits_; }
    [[nodiscard]] uint64_t misses() const { return misses_; }

    struct Key {
        uint64_t dev, ino, size;
        int64_t mtime_ns, ctime_ns;
        auto operator<=>(const Key&) const = default;
    };

    // One sorted file of records (the saved cache, or a spill): searched without loading it.
    struct SortedFile {
        unique_fd fd;
        uint64_t count = 0;
        std::vector<Key> index;            // the key of every kIndexStride-th record
        std::vector<bool> used;            // per record: looked up since load (save keeps these)
        [[nodiscard]] std::optional<Digest> find(const Key& k, bool mark_used);
    };

    static constexpr size_t kIndexStride = 64;
    static constexpr size_t kPendingMax = 32 * 1024;

private:
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept;
    };
    [[nodiscard]] static Key key_of(const struct stat& st);
    [[nodiscard]] std::optional<Digest> lookup(const Key& k);
    void remember(const Key& k, const Digest& d, int64_t hashed_at_ns);
    void load();
    void spill();

    std::filesystem::path file_;
    size_t max_entries_ = kDefaultMaxEntries;
    mutable std::mutex mu_;
    SortedFile saved_;                            // the cache file as loaded
    std::vector<SortedFile> spills_;              // pending entries written out, sorted
    std::unordered_map<Key, Digest, KeyHash> pending_;
    bool dirty_ = false;
    uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace imgbuild::builder
