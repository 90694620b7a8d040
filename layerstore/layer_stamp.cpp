// The stamp walk of layer_stamp.h: one fstatat per entry, relative to its directory's fd
// (getdents64 names, no path resolution per entry), the directories still to visit kept as
// paths relative to the root (one open per directory, a bounded number of fds whatever the
// depth). 30% less CPU than fts (a full-path lstat per entry) on W7's 10k-file base.
//
// On two threads each walks the whole tree (getdents is ~20% of the walk) and stats the
// entries whose name hashes to its share; it descends into the others by their d_type. Each
// name is stated by one thread whatever the order getdents gives, and the stamp is a sum
// and a maximum, so the shares add up to the one-thread stamp.
#include "layerstore/layer_stamp.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace imgbuild::layerstore {

void add_to_stamp(DirStamp& s, const struct stat& st) {
    ++s.entries;
    if (S_ISREG(st.st_mode)) s.bytes += static_cast<uint64_t>(st.st_size);
    int64_t ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    if (ctime_ns > s.newest_ctime_ns) s.newest_ctime_ns = ctime_ns;
}

namespace {

struct linux_dirent64 {
    ino64_t d_ino;
    off64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

std::string joined(const std::string& root, const std::string& rel) { return rel.empty() ? root : root + "/" + rel; }

// The entries one thread stamps: all of them (of == 1), or those whose name hashes to `share`.
struct Share {
    unsigned share = 0;
    unsigned of = 1;
    [[nodiscard]] bool owns(const char* name) const {
        return of == 1 || std::hash<std::string_view>{}(std::string_view(name)) % of == share;
    }
};

// Stamps this share's entries of the directory `rel` (below `root_fd`) and queues its subdirectories.
void stamp_entries(DirStamp& s, const Share& share, int root_fd, const std::string& root, const std::string& rel,
                   std::vector<std::string>& pending, char* buf, size_t buf_size) {
    unique_fd fd(::openat(root_fd, rel.empty() ? "." : rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("walk", joined(root, rel));
    for (;;) {
        long n = ::syscall(SYS_getdents64, fd.get(), buf, buf_size);
        if (n < 0) throw_errno("walk", joined(root, rel));
        if (n == 0) return;
        for (long off = 0; off < n;) {
            auto* d = reinterpret_cast<linux_dirent64*>(buf + off);
            off += d->d_reclen;
            const char* name = d->d_name;
            if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
            bool owned = share.owns(name);
            bool is_dir = d->d_type == DT_DIR;
            if (owned || d->d_type == DT_UNKNOWN) {  // (a file system without d_type: the stat tells)
                struct stat st {};
                if (::fstatat(fd.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                    throw_errno("walk", joined(root, rel.empty() ? name : rel + "/" + name));
                if (owned) add_to_stamp(s, st);
                is_dir = S_ISDIR(st.st_mode);
            }
            if (is_dir) pending.push_back(rel.empty() ? std::string(name) : rel + "/" + name);
        }
    }
}

// The stamp of one share of the entries below the root (the root itself not counted).
DirStamp stamp_share(const Share& share, int root_fd, const std::string& root) {
    DirStamp s;
    std::vector<char> buf(32 * 1024);
    std::vector<std::string> pending{""};
    while (!pending.empty()) {
        std::string rel = std::move(pending.back());
        pending.pop_back();
        stamp_entries(s, share, root_fd, root, rel, pending, buf.data(), buf.size());
    }
    return s;
}

void add_stamp(DirStamp& into, const DirStamp& part) {
    into.entries += part.entries;
    into.bytes += part.bytes;
    if (part.newest_ctime_ns > into.newest_ctime_ns) into.newest_ctime_ns = part.newest_ctime_ns;
}

}  // namespace

unsigned stamp_threads_for(uint64_t expected_entries) { return expected_entries >= kTwoThreadStampEntries ? 2 : 1; }

DirStamp stamp_dir(const std::filesystem::path& dir, unsigned threads) {
    const std::string root = dir.string();
    DirStamp s;
    struct stat st {};
    if (::lstat(root.c_str(), &st) != 0) throw_errno("walk", root);
    add_to_stamp(s, st);
    if (!S_ISDIR(st.st_mode)) return s;
    unique_fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_fd) throw_errno("walk", root);
    DirStamp other;
    std::exception_ptr other_error;
    std::thread helper;
    if (threads >= 2) {
        try {
            helper = std::thread([&] {
                try {
                    other = stamp_share(Share{1, 2}, root_fd.get(), root);
                } catch (...) {
                    other_error = std::current_exception();
                }
            });
        } catch (const std::system_error&) {  // no thread to be had: one walk does it all
        }
    }
    if (!helper.joinable()) {
        add_stamp(s, stamp_share(Share{}, root_fd.get(), root));
        return s;
    }
    DirStamp mine;
    std::exception_ptr my_error;
    try {
        mine = stamp_share(Share{0, 2}, root_fd.get(), root);
    } catch (...) {
        my_error = std::current_exception();
    }
    helper.join();
    if (my_error) std::rethrow_exception(my_error);
    if (other_error) std::rethrow_exception(other_error);
    add_stamp(s, mine);
    add_stamp(s, other);
    return s;
}

nlohmann::json stamp_to_json(const DirStamp& s) {
    return {{"entries", s.entries}, {"bytes", s.bytes}, {"newest_ctime_ns", s.newest_ctime_ns}};
}

DirStamp stamp_from_json(const nlohmann::json& j) {
    DirStamp s;
    s.entries = j.at("entries").get<uint64_t>();
    s.bytes = j.at("bytes").get<uint64_t>();
    s.newest_ctime_ns = j.at("newest_ctime_ns").get<int64_t>();
    return s;
}

}  // namespace imgbuild::layerstore
