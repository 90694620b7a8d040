#include "layerstore/cache_mounts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/time.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path cache_mounts_dir(const Store& store) { return store.root() / "cache-mounts"; }

std::string now_rfc3339() { return rfc3339(static_cast<int64_t>(std::time(nullptr))); }

void write_meta(const Store& store, const fs::path& dir, const json& meta) {
    atomic_write_file(dir / "meta.json", meta.dump() + "\n", store.tmp_dir(), Durability::relaxed);
}

json read_meta(const fs::path& dir) {
    try {
        return json::parse(read_file(dir / "meta.json"));
    } catch (const std::exception&) {
        return json::object();  // a torn or missing meta.json: the dir is still usable
    }
}

// data/ with the setup's owner and mode, seeded; in `parent` (a staging dir or a new
// private instance dir).
void make_data_dir(const fs::path& parent, const CacheMountSetup& setup) {
    fs::path data = parent / "data";
    if (::mkdir(data.c_str(), 0700) != 0) throw_errno("mkdir", data.string());
    if (::chown(data.c_str(), setup.uid, setup.gid) != 0) throw_errno("chown", data.string());
    if (setup.seed) setup.seed(data);
    if (::chmod(data.c_str(), setup.mode & 07777) != 0) throw_errno("chmod", data.string());
}

// Creates cache-mounts/<hex> unless it exists (a racing creator may win: then theirs is used).
void ensure_cache_dir(const Store& store, const std::string& id, const fs::path& dir, const CacheMountSetup& setup) {
    if (::access(dir.c_str(), F_OK) == 0) return;
    make_dirs(dir.parent_path());
    TempDir staging = store.make_temp_dir("cache-mount");
    make_data_dir(staging.path(), setup);
    std::string now = now_rfc3339();
    write_meta(store, staging.path(), {{"id", id}, {"created", now}, {"last_used", now}});
    if (::rename(staging.path().c_str(), dir.c_str()) == 0) {
        (void)staging.release();
        return;
    }
    if (errno != EEXIST && errno != ENOTEMPTY) throw_errno("rename " + staging.path().string() + " to", dir.string());
}

// Whether the lock file we hold is still the one in the directory (a removal renames the
// dir away after taking the lock exclusive; a waiter then holds an orphan).
bool still_in_place(const FileLock& lock, const fs::path& lock_path) {
    struct stat held {}, current {};
    return ::fstat(lock.fd(), &held) == 0 && ::stat(lock_path.c_str(), &current) == 0 && held.st_ino == current.st_ino &&
           held.st_dev == current.st_dev;
}

// A free private instance of dir, or a new one.
CacheMountHandle private_instance(const fs::path& dir, const CacheMountSetup& setup) {
    fs::path base = dir / "private";
    make_dirs(base);
    for (int n = 0;; ++n) {
        fs::path inst = base / std::to_string(n);
        if (::mkdir(inst.c_str(), 0700) == 0) {
            FileLock lock(inst / "lock", LOCK_EX);  // nobody else can know of it before data/ is made
            make_data_dir(inst, setup);
            return {inst / "data", std::move(lock)};
        }
        if (errno != EEXIST) throw_errno("mkdir", inst.string());
        auto lock = FileLock::try_lock(inst / "lock", LOCK_EX);
        if (lock.valid() && ::access((inst / "data").c_str(), F_OK) == 0) return {inst / "data", std::move(lock)};
    }
}

uint64_t tree_size(const fs::path& dir) {
    uint64_t total = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += static_cast<uint64_t>(st.st_size);
    }
    return total;
}

int64_t meta_time(const json& meta, const char* key) {
    if (!meta.contains(key) || !meta[key].is_string()) return 0;
    return parse_rfc3339(meta[key].get<std::string>()).value_or(0);
}

// Every lock of a cache dir (its own and its private instances'), taken exclusive without
// waiting; empty when one of them is busy.
std::vector<FileLock> lock_all(const fs::path& dir) {
    std::vector<FileLock> locks;
    auto main = FileLock::try_lock(dir / "lock", LOCK_EX);
    if (!main.valid()) return {};
    locks.push_back(std::move(main));
    std::error_code ec;
    for (const auto& inst : fs::directory_iterator(dir / "private", ec)) {
        auto l = FileLock::try_lock(inst.path() / "lock", LOCK_EX);
        if (!l.valid()) return {};
        locks.push_back(std::move(l));
    }
    return locks;
}

}  // namespace

CacheSharing parse_cache_sharing(std::string_view text) {
    if (text.empty() || text == "shared") return CacheSharing::shared;
    if (text == "private") return CacheSharing::private_;
    if (text == "locked") return CacheSharing::locked;
    throw Error("invalid cache sharing \"" + std::string(text) + "\" (shared, private or locked)");
}

std::string cache_mount_hex(std::string_view id) { return Digest::of(id).hex(); }

CacheMountHandle open_cache_mount(const Store& store, const std::string& id, CacheSharing sharing,
                                  const CacheMountSetup& setup) {
    fs::path dir = cache_mounts_dir(store) / cache_mount_hex(id);
    fs::path lock_path = dir / "lock";
    for (;;) {
        ensure_cache_dir(store, id, dir, setup);
        std::optional<FileLock> lock;
        try {
            if (sharing == CacheSharing::private_) {
                auto l = FileLock::try_lock(lock_path, LOCK_EX);
                if (!l.valid()) return private_instance(dir, setup);
                lock.emplace(std::move(l));
            } else {
                lock.emplace(lock_path, sharing == CacheSharing::locked ? LOCK_EX : LOCK_SH);
            }
        } catch (const SystemError&) {
            if (::access(dir.c_str(), F_OK) != 0) continue;  // removed meanwhile: make it again
            throw;
        }
        if (!still_in_place(*lock, lock_path)) continue;
        json meta = read_meta(dir);
        if (meta.empty()) meta = {{"id", id}, {"created", now_rfc3339()}};
        meta["last_used"] = now_rfc3339();
        write_meta(store, dir, meta);
        return {dir / "data", std::move(*lock)};
    }
}

std::vector<CacheMountInfo> list_cache_mounts(const Store& store, bool with_sizes) {
    std::vector<CacheMountInfo> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(cache_mounts_dir(store), ec)) {
        if (!entry.is_directory()) continue;
        CacheMountInfo info;
        info.hex = entry.path().filename().string();
        json meta = read_meta(entry.path());
        info.id = meta.value("id", "");
        info.created = meta_time(meta, "created");
        info.last_used = meta_time(meta, "last_used");
        info.in_use = lock_all(entry.path()).empty();
        if (with_sizes) info.size = tree_size(entry.path());
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const CacheMountInfo& a, const CacheMountInfo& b) { return a.id < b.id; });
    return out;
}

bool remove_cache_mount(const Store& store, const std::string& hex) {
    fs::path dir = cache_mounts_dir(store) / hex;
    if (::access(dir.c_str(), F_OK) != 0) return false;
    auto locks = lock_all(dir);
    if (locks.empty()) return false;
    // Out of sight first (a rename is atomic), then deleted at leisure.
    fs::path doomed = store.tmp_dir() / ("cache-mount-removed-" + random_hex(8));
    rename_or_throw(dir, doomed);
    locks.clear();
    remove_tree(doomed);
    return true;
}

CacheMountPrune prune_cache_mounts(const Store& store, std::optional<int64_t> until) {
    CacheMountPrune r;
    for (const auto& info : list_cache_mounts(store)) {
        if (info.in_use) continue;
        if (until && info.last_used >= *until) continue;
        if (remove_cache_mount(store, info.hex)) {
            ++r.removed;
            r.reclaimed += info.size;
        }
    }
    return r;
}

}  // namespace imgbuild::layerstore
