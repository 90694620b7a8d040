#include "builder/file_hash_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"

namespace imgbuild::builder {

namespace {

// Kernel file timestamps come from a coarse clock (one tick, up to 10 ms behind): a file
// whose ctime is not clearly older than the moment we started reading it may be changed
// again without its ctime moving.
constexpr int64_t kRacyWindowNs = 50'000'000;

int64_t ns_of(const timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec; }

int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return ns_of(ts);
}

Digest hash_fd(int fd, const std::string& path_for_errors) {
    Sha256 h;
    std::vector<char> buf(1 << 20);
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", path_for_errors);
        }
        if (n == 0) break;
        h.update(buf.data(), static_cast<size_t>(n));
        off += n;
    }
    return h.finish();
}

// The file: a 16-byte header, then records sorted by key: dev, ino, size, mtime_ns, ctime_ns
// (8 bytes each, host order: the file never leaves this machine) and the raw 32-byte digest.
constexpr char kMagic[16] = "imgbuild-fhc-v2";
constexpr size_t kHeader = sizeof(kMagic);
constexpr size_t kKeyBytes = 40;
constexpr size_t kRecord = kKeyBytes + 32;
using Key = FileHashCache::Key;

void encode(const Key& k, const Digest& d, char* out) {
    std::memcpy(out, &k.dev, 8);
    std::memcpy(out + 8, &k.ino, 8);
    std::memcpy(out + 16, &k.size, 8);
    std::memcpy(out + 24, &k.mtime_ns, 8);
    std::memcpy(out + 32, &k.ctime_ns, 8);
    std::optional<std::string> bytes = hex_decode(d.hex());  // a Digest is always 64 valid hex digits
    std::memcpy(out + kKeyBytes, bytes->data(), 32);
}

Key key_at(const char* rec) {
    Key k{};
    std::memcpy(&k.dev, rec, 8);
    std::memcpy(&k.ino, rec + 8, 8);
    std::memcpy(&k.size, rec + 16, 8);
    std::memcpy(&k.mtime_ns, rec + 24, 8);
    std::memcpy(&k.ctime_ns, rec + 32, 8);
    return k;
}

Digest digest_at(const char* rec) {
    return Digest::from_hex(hex_encode(std::string_view(rec + kKeyBytes, 32)));
}

void pread_exact(int fd, char* buf, size_t n, uint64_t off, const std::string& what) {
    while (n > 0) {
        ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_errno("read", what);
        if (r == 0) throw Error("read " + what + ": file is shorter than its records");
        buf += r;
        n -= static_cast<size_t>(r);
        off += static_cast<uint64_t>(r);
    }
}

// Sequential reader of one sorted file, for the merge in save().
struct RecordReader {
    RecordReader(int f, uint64_t n, const std::vector<bool>* u) : fd(f), count(n), used(u) {}
    int fd;
    uint64_t count, next = 0;
    const std::vector<bool>* used;
    std::vector<char> buf = std::vector<char>(kRecord * 512);
    size_t at = 0, have = 0;
    char* current = nullptr;
    bool advance(const std::string& what) {
        if (next == count) return false;
        if (at == have) {
            uint64_t n = std::min<uint64_t>(512, count - next);
            pread_exact(fd, buf.data(), n * kRecord, kHeader + next * kRecord, what);
            have = n;
            at = 0;
        }
        current = buf.data() + at * kRecord;
        ++at;
        ++next;
        return true;
    }
    [[nodiscard]] bool current_used() const { return !used || (*used)[next - 1]; }
};

// Buffered writer of the new file.
struct RecordWriter {
    int fd;
    std::string path;
    std::vector<char> buf;
    uint64_t count = 0;
    void put(const char* rec) {
        buf.insert(buf.end(), rec, rec + kRecord);
        ++count;
        if (buf.size() >= (1 << 20)) flush();
    }
    void flush() {
        write_all(fd, std::string_view(buf.data(), buf.size()), path);
        buf.clear();
    }
};

}  // namespace

size_t FileHashCache::KeyHash::operator()(const Key& k) const noexcept {
    uint64_t h = k.ino * 0x9E3779B97F4A7C15ull;
    h ^= k.dev + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    h ^= k.size + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(k.mtime_ns) + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(k.ctime_ns) + (h << 6) + (h >> 2);
    return static_cast<size_t>(h);
}

FileHashCache::FileHashCache(std::filesystem::path file, size_t max_entries)
    : file_(std::move(file)), max_entries_(max_entries) {
    load();
}

FileHashCache::Key FileHashCache::key_of(const struct stat& st) {
    return Key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
               ns_of(st.st_mtim), ns_of(st.st_ctim)};
}

std::optional<Digest> FileHashCache::SortedFile::find(const Key& k, bool mark_used) {
    if (count == 0) return std::nullopt;
    // The block whose first key is the last one <= k.
    auto it = std::upper_bound(index.begin(), index.end(), k);
    if (it == index.begin()) return std::nullopt;
    uint64_t block = static_cast<uint64_t>(it - index.begin()) - 1;
    uint64_t first = block * kIndexStride, n = std::min<uint64_t>(kIndexStride, count - first);
    char buf[kIndexStride * kRecord];
    pread_exact(fd.get(), buf, n * kRecord, kHeader + first * kRecord, "file hash cache");
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        Key m = key_at(buf + mid * kRecord);
        if (m == k) {
            if (mark_used) used[first + mid] = true;
            return digest_at(buf + mid * kRecord);
        }
        if (m < k) lo = mid + 1;
        else hi = mid;
    }
    return std::nullopt;
}

void FileHashCache::load() {
    if (file_.empty()) return;
    unique_fd fd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno != ENOENT) log::warn("ignoring the file hash cache " + file_.string() + ": " + describe_errno(errno));
        return;
    }
    try {
        struct stat st{};
        if (::fstat(fd.get(), &st) != 0) throw_errno("stat", file_.string());
        char magic[kHeader] = {};
        auto size = static_cast<uint64_t>(st.st_size);
        if (size < kHeader || (size - kHeader) % kRecord != 0) throw Error("not a file hash cache (bad size)");
        pread_exact(fd.get(), magic, kHeader, 0, file_.string());
        if (std::memcmp(magic, kMagic, kHeader) != 0) throw Error("not a file hash cache of this version");
        SortedFile f;
        f.count = (size - kHeader) / kRecord;
        f.index.reserve(static_cast<size_t>((f.count + kIndexStride - 1) / kIndexStride));
        char rec[kKeyBytes];
        for (uint64_t i = 0; i < f.count; i += kIndexStride) {
            pread_exact(fd.get(), rec, kKeyBytes, kHeader + i * kRecord, file_.string());
            Key k = key_at(rec);
            if (!f.index.empty() && !(f.index.back() < k)) throw Error("records out of order");
            f.index.push_back(k);
        }
        f.used.assign(static_cast<size_t>(f.count), false);
        f.fd = std::move(fd);
        saved_ = std::move(f);
    } catch (const std::exception& ex) {
        log::warn("ignoring the file hash cache " + file_.string() + ": " + ex.what());
        dirty_ = true;  // rewrite it cleanly
    }
}

std::optional<Digest> FileHashCache::lookup(const Key& k) {
    std::lock_guard lock(mu_);
    std::optional<Digest> d;
    if (auto it = pending_.find(k); it != pending_.end()) d = it->second;
    if (!d) d = saved_.find(k, true);
    if (!d) {
        ++misses_;
        return std::nullopt;
    }
    ++hits_;
    return d;
}

void FileHashCache::remember(const Key& k, const Digest& d, int64_t hashed_at_ns) {
    if (k.ctime_ns + kRacyWindowNs >= hashed_at_ns) return;  // ctime moves on every change; mtime may be anything
    std::lock_guard lock(mu_);
    if (!pending_.insert_or_assign(k, d).second) return;
    dirty_ = true;
    if (pending_.size() >= kPendingMax) spill();
}

// Writes the pending entries, sorted, to an unnamed file in the cache's directory.
void FileHashCache::spill() {
    if (file_.empty()) {  // in memory only: the cache forgets instead of growing
        pending_.clear();
        return;
    }
    const auto dir = file_.parent_path().empty() ? std::filesystem::path(".") : file_.parent_path();
    make_dirs(dir);
    unique_fd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd) {
        log::warn("file hash cache: cannot spill to " + dir.string() + ": " + describe_errno(errno));
        pending_.clear();
        return;
    }
    std::vector<std::pair<Key, Digest>> sorted(pending_.begin(), pending_.end());
    pending_.clear();
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    RecordWriter w{fd.get(), "file hash cache spill in " + dir.string(), {}};
    w.buf.assign(kMagic, kMagic + kHeader);
    char rec[kRecord];
    for (const auto& [k, d] : sorted) {
        encode(k, d, rec);
        w.put(rec);
    }
    w.flush();
    SortedFile f;
    f.count = sorted.size();
    f.fd = std::move(fd);
    spills_.push_back(std::move(f));
}

Digest FileHashCache::fd_digest(int fd, const struct stat& st, const std::string& path_for_errors) {
    const Key k = key_of(st);
    if (auto d = lookup(k)) return *d;
    const int64_t started = now_ns();
    Digest d = hash_fd(fd, path_for_errors);
    struct stat after{};
    if (::fstat(fd, &after) == 0 && key_of(after) == k) remember(k, d, started);
    return d;
}

Digest FileHashCache::file_digest(int dirfd, const char* name, const struct stat& st,
                                  const std::string& path_for_errors) {
    const Key k = key_of(st);
    if (auto d = lookup(k)) return *d;
    unique_fd fd(::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) throw_errno("open", path_for_errors);
    const int64_t started = now_ns();
    Digest d = hash_fd(fd.get(), path_for_errors);
    struct stat after{};
    if (::fstat(fd.get(), &after) == 0 && key_of(after) == k) remember(k, d, started);
    return d;
}

size_t FileHashCache::size() const {
    std::lock_guard lock(mu_);
    uint64_t n = saved_.count + pending_.size();
    for (const auto& f : spills_) n += f.count;
    return static_cast<size_t>(n);
}

void FileHashCache::save() {
    std::lock_guard lock(mu_);
    if (file_.empty()) return;
    uint64_t total = saved_.count + pending_.size();
    for (const auto& f : spills_) total += f.count;
    const bool evict = total > max_entries_;
    if (!dirty_ && !evict) return;
    if (!pending_.empty()) spill();
    // A k-way merge of the saved file (without its unused entries when over the bound) and
    // the spills, in key order; a key in several of them is written once.
    std::vector<RecordReader> in;
    in.emplace_back(saved_.fd.get(), saved_.count, evict ? &saved_.used : nullptr);
    for (auto& f : spills_) in.emplace_back(f.fd.get(), f.count, nullptr);
    const auto dir = file_.parent_path().empty() ? std::filesystem::path(".") : file_.parent_path();
    make_dirs(dir);
    TempFile out(dir, "file-hashes");
    RecordWriter w{out.fd(), out.path().string(), {}};
    w.buf.assign(kMagic, kMagic + kHeader);
    auto greater = [&](size_t a, size_t b) { return key_at(in[b].current) < key_at(in[a].current); };
    std::vector<size_t> heap;
    for (size_t i = 0; i < in.size(); ++i)
        if (in[i].advance(file_.string())) heap.push_back(i);
    std::make_heap(heap.begin(), heap.end(), greater);
    std::optional<Key> last;
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), greater);
        size_t i = heap.back();
        Key k = key_at(in[i].current);
        if (in[i].current_used() && (!last || *last != k)) {
            w.put(in[i].current);
            last = k;
        }
        if (in[i].advance(file_.string())) std::push_heap(heap.begin(), heap.end(), greater);
        else heap.pop_back();
    }
    w.flush();
    out.commit(file_, Durability::relaxed);
    spills_.clear();
    dirty_ = false;
    saved_ = SortedFile{};
    load();  // the new file, for lookups after a save
}

}  // namespace imgbuild::builder
