#include "builder/file_hash_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

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

constexpr int kFormatVersion = 1;

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

// The layout save() writes, one entry a line, read without a general JSON parser (a
// 100k-entry cache loads in milliseconds). Anything else goes through nlohmann::json.
bool FileHashCache::parse_fast(const std::string& text) {
    const std::string_view head = "{\"version\":1,\"entries\":[\n";
    if (!std::string_view(text).starts_with(head)) return false;
    const char* p = text.data() + head.size();
    const char* end = text.data() + text.size();
    std::unordered_map<Key, Entry, KeyHash> out;
    out.reserve(text.size() / 110);
    while (p < end && *p == '[') {
        ++p;
        uint64_t v[3];
        int64_t t[2];
        char* q = nullptr;
        for (auto& x : v) {
            x = std::strtoull(p, &q, 10);
            if (q == p || *q != ',') return false;
            p = q + 1;
        }
        for (auto& x : t) {
            x = std::strtoll(p, &q, 10);
            if (q == p || *q != ',') return false;
            p = q + 1;
        }
        if (end - p < 68 || p[0] != '"' || p[65] != '"' || p[66] != ']') return false;
        auto d = Digest::try_parse("sha256:" + std::string(p + 1, 64));
        if (!d) return false;
        out.emplace(Key{v[0], v[1], v[2], t[0], t[1]}, Entry{*d, false});
        p += 67;
        if (p < end && *p == ',') ++p;
        if (p < end && *p == '\n') ++p;
    }
    if (std::string_view(p, static_cast<size_t>(end - p)) != "]}\n") return false;
    entries_ = std::move(out);
    return true;
}

void FileHashCache::load() {
    std::error_code ec;
    if (file_.empty() || !std::filesystem::exists(file_, ec)) return;
    try {
        const std::string text = read_file(file_);
        if (parse_fast(text)) return;
        auto j = nlohmann::json::parse(text);
        if (j.value("version", 0) != kFormatVersion) return;
        for (const auto& e : j.at("entries")) {
            Key k{e.at(0).get<uint64_t>(), e.at(1).get<uint64_t>(), e.at(2).get<uint64_t>(), e.at(3).get<int64_t>(),
                  e.at(4).get<int64_t>()};
            entries_.emplace(k, Entry{Digest::from_hex(e.at(5).get<std::string>()), false});
        }
    } catch (const std::exception& ex) {
        log::warn("ignoring the file hash cache " + file_.string() + ": " + ex.what());
        entries_.clear();
        dirty_ = true;  // rewrite it cleanly
    }
}

std::optional<Digest> FileHashCache::lookup(const Key& k) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(k);
    if (it == entries_.end()) {
        ++misses_;
        return std::nullopt;
    }
    it->second.used = true;
    ++hits_;
    return it->second.digest;
}

void FileHashCache::remember(const Key& k, const Digest& d, int64_t hashed_at_ns) {
    if (k.ctime_ns + kRacyWindowNs >= hashed_at_ns) return;  // ctime moves on every change; mtime may be anything
    std::lock_guard lock(mu_);
    auto [it, inserted] = entries_.insert_or_assign(k, Entry{d, true});
    (void)it;
    dirty_ = dirty_ || inserted;
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
    return entries_.size();
}

void FileHashCache::save() {
    std::lock_guard lock(mu_);
    if (file_.empty()) return;
    if (entries_.size() > max_entries_) {
        std::erase_if(entries_, [](const auto& kv) { return !kv.second.used; });
        dirty_ = true;
    }
    if (!dirty_) return;
    // Valid JSON in a fixed layout that parse_fast reads back.
    std::string text = "{\"version\":" + std::to_string(kFormatVersion) + ",\"entries\":[\n";
    text.reserve(text.size() + entries_.size() * 120);
    bool first = true;
    for (const auto& [k, e] : entries_) {
        if (!first) text += ",\n";
        first = false;
        text += '[' + std::to_string(k.dev) + ',' + std::to_string(k.ino) + ',' + std::to_string(k.size) + ',' +
                std::to_string(k.mtime_ns) + ',' + std::to_string(k.ctime_ns) + ",\"" + e.digest.hex() + "\"]";
    }
    text += "\n]}\n";
    const auto dir = file_.parent_path().empty() ? std::filesystem::path(".") : file_.parent_path();
    make_dirs(dir);
    atomic_write_file(file_, text, dir);
    dirty_ = false;
}

}  // namespace imgbuild::builder
