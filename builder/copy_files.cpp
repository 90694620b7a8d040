#include "builder/copy_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <map>
#include <memory>
#include <vector>

#include "builder/dockerignore.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/path_resolve.h"
#include "oci/layer_tar.h"

namespace imgbuild::builder {

namespace {

// ---------------------------------------------------------------------------------------
// Small helpers

std::string join_path(const std::string& dir, std::string_view name) {
    if (dir.empty() || dir == ".") return std::string(name);
    std::string r = dir;
    if (r.back() != '/') r += '/';
    r += name;
    return r;
}

std::string base_name(std::string_view path) {
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    size_t s = path.rfind('/');
    return std::string(s == std::string_view::npos ? path : path.substr(s + 1));
}

std::string dir_name(std::string_view path) {
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    size_t s = path.rfind('/');
    if (s == std::string_view::npos) return "/";
    if (s == 0) return "/";
    return std::string(path.substr(0, s));
}

std::string container_path(const std::string& p) { return p.empty() || p.front() != '/' ? "/" + p : p; }

std::vector<std::string> list_sorted(int dirfd, const std::string& path_for_errors) {
    return sorted_dir_names(dirfd, path_for_errors);
}

// Copies [off, off+len) of src to the same offsets of dst without holding the data in
// memory: copy_file_range (reflinks and in-kernel copies), then sendfile, then pread/pwrite
// where neither applies. Returns false when the source ended early (it shrank).
struct RangeCopier {
    bool try_cfr = true, try_sendfile = true;

    bool copy(int src, int dst, off_t off, uint64_t len, const std::string& src_path, const std::string& dst_path) {
        uint64_t done = 0;
        while (done < len) {
            const size_t chunk = static_cast<size_t>(std::min<uint64_t>(len - done, 1ull << 30));
            off_t in_off = off + static_cast<off_t>(done), out_off = in_off;
            ssize_t n = -1;
            if (try_cfr) {
                n = ::copy_file_range(src, &in_off, dst, &out_off, chunk, 0);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF ||
                        errno == EPERM) {
                        try_cfr = false;
                        continue;
                    }
                    throw_errno("copy " + src_path + " to", dst_path);
                }
            } else if (try_sendfile) {
                if (::lseek(dst, out_off, SEEK_SET) < 0) throw_errno("seek", dst_path);
                n = ::sendfile(dst, src, &in_off, chunk);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    if (errno == EINVAL || errno == ENOSYS) {
                        try_sendfile = false;
                        continue;
                    }
                    throw_errno("copy " + src_path + " to", dst_path);
                }
            } else {
                char buf[1 << 16];
                n = ::pread(src, buf, std::min(sizeof buf, chunk), in_off);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    throw_errno("read", src_path);
                }
                for (ssize_t w = 0; w < n;) {
                    ssize_t m = ::pwrite(dst, buf + w, static_cast<size_t>(n - w), out_off + w);
                    if (m < 0 && errno == EINTR) continue;
                    if (m < 0) throw_errno("write", dst_path);
                    w += m;
                }
            }
            if (n == 0) return false;
            done += static_cast<uint64_t>(n);
        }
        return true;
    }
};

// Streams the first `size` bytes of src to dst, keeping holes as holes: only the data
// ranges (SEEK_DATA/SEEK_HOLE) are copied and the length is set by ftruncate, so a 2 GiB
// sparse file costs its data, not 2 GiB of writes. Filesystems without SEEK_DATA report
// the whole file as data. A source that shrinks while copied gives what there is.
void copy_data(int src, int dst, uint64_t size, const std::string& src_path, const std::string& dst_path) {
    RangeCopier rc;
    const off_t end = static_cast<off_t>(size);
    off_t pos = 0;
    while (pos < end) {
        off_t data = ::lseek(src, pos, SEEK_DATA);
        off_t hole = end;
        if (data < 0) {
            if (errno == ENXIO) break;  // only a hole from pos on
            if (errno != EINVAL && errno != EOPNOTSUPP) throw_errno("seek", src_path);
            data = pos;  // no SEEK_DATA here: all data
        } else {
            hole = ::lseek(src, data, SEEK_HOLE);
            if (hole < 0 || hole > end) hole = end;
        }
        if (data >= end) break;
        if (!rc.copy(src, dst, data, static_cast<uint64_t>(hole - data), src_path, dst_path)) {
            struct stat st{};
            if (::fstat(src, &st) == 0 && st.st_size < end) {
                if (::ftruncate(dst, st.st_size) != 0) throw_errno("truncate", dst_path);
                return;
            }
            break;
        }
        pos = hole;
    }
    if (::ftruncate(dst, end) != 0) throw_errno("truncate", dst_path);
}

bool copied_xattr(std::string_view name) {
    if (name == "security.capability") return true;
    return name.starts_with("user.") && !name.starts_with("user.overlay.");
}

// Copies user.* and security.capability from one open fd to another (both real fds).
void copy_xattrs(int src, int dst, const std::string& src_path, const std::string& dst_path) {
    ssize_t len = ::flistxattr(src, nullptr, 0);
    if (len <= 0) return;  // none, or the filesystem has no xattrs
    std::string names(static_cast<size_t>(len), '\0');
    len = ::flistxattr(src, names.data(), names.size());
    if (len < 0) return;
    names.resize(static_cast<size_t>(len));
    for (size_t i = 0; i < names.size();) {
        std::string name(names.c_str() + i);
        i += name.size() + 1;
        if (!copied_xattr(name)) continue;
        ssize_t vlen = ::fgetxattr(src, name.c_str(), nullptr, 0);
        if (vlen < 0) continue;
        std::string value(static_cast<size_t>(vlen), '\0');
        vlen = ::fgetxattr(src, name.c_str(), value.data(), value.size());
        if (vlen < 0) continue;
        value.resize(static_cast<size_t>(vlen));
        if (::fsetxattr(dst, name.c_str(), value.data(), value.size(), 0) != 0) {
            if (errno == ENOTSUP || errno == EPERM)
                log::warn("cannot keep xattr " + name + " of " + src_path + " on " + dst_path + ": " +
                          describe_errno(errno));
            else
                throw_errno("setxattr " + name, dst_path);
        }
    }
}

struct Owner {
    uid_t uid;
    gid_t gid;
};

// Owner, permission bits (after chown: chown clears setuid and capabilities), times.
void apply_metadata_fd(int fd, Owner o, mode_t perm, const timespec& mtime, const std::string& path) {
    if (::fchown(fd, o.uid, o.gid) != 0) throw_errno("chown", path);
    if (::fchmod(fd, perm & 07777) != 0) throw_errno("chmod", path);
    const timespec ts[2] = {mtime, mtime};
    if (::futimens(fd, ts) != 0) throw_errno("set times of", path);
}

// For entries we cannot open (symlinks, devices, fifos).
void apply_metadata_at(int dirfd, const char* name, Owner o, std::optional<mode_t> perm, const timespec& mtime,
                       const std::string& path) {
    if (::fchownat(dirfd, name, o.uid, o.gid, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chown", path);
    if (perm && ::fchmodat(dirfd, name, *perm & 07777, 0) != 0) throw_errno("chmod", path);
    const timespec ts[2] = {mtime, mtime};
    if (::utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times of", path);
}

// ---------------------------------------------------------------------------------------
// Destination directories

struct DestDir {
    unique_fd fd;  // O_PATH directory fd
    bool created = false;
};

// Opens the directory `path` in the root, creating what is missing (0755, owner `o`), as
// BuildKit's MkdirAll in fs.RootPath: symlinks on the way are followed inside the root,
// a dangling one too (its target is created, in the root), so COPY, ADD and WORKDIR agree.
DestDir ensure_dest_dirs(int root_fd, const std::string& path, Owner o) {
    try {
        MkdirsOwned m = mkdirs_in_root_owned(root_fd, path, 0755, o.uid, o.gid);
        return DestDir{std::move(m.fd), m.created};
    } catch (const SystemError& e) {
        if (e.error_number() == ENOTDIR || e.error_number() == EEXIST)
            throw Error("cannot create directory " + container_path(path) + ": a non-directory exists there");
        throw;
    }
}

// Makes room for a non-directory at dirfd/name: removes an existing non-directory; an
// existing directory is an error naming both sides.
void clear_for_nondir(int dirfd, const std::string& name, const std::string& src_desc, const std::string& dst_path) {
    struct stat st{};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return;
        throw_errno("stat", dst_path);
    }
    if (S_ISDIR(st.st_mode))
        throw Error("cannot copy " + src_desc + " to " + dst_path + ": a directory exists at the destination");
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) throw_errno("unlink", dst_path);
}

// ---------------------------------------------------------------------------------------
// The copier

class Copier {
public:
    Copier(int root_fd, const CopySpec& spec) : root_(root_fd), spec_(spec) {}

    void run() {
        const auto& s = spec_;
        if (s.sources.size() > 1 && !s.dest_trailing_slash)
            throw Error("When using COPY with more than one source file, the destination must be a directory and "
                        "end with a / (destination " + s.dest + ")");
        for (const auto& src : s.sources) {
            // Hardlinks are kept within one source, not across sources: two sources that are
            // links of one file land as two files, as in both of Docker's builders (a copier
            // per source).
            links_.clear();
            copy_source(src);
        }
    }

private:
    [[nodiscard]] Owner owner_for(const struct stat& st) const {
        Owner o{spec_.preserve_ownership ? st.st_uid : 0, spec_.preserve_ownership ? st.st_gid : 0};
        if (spec_.uid) o.uid = *spec_.uid;
        if (spec_.gid) o.gid = *spec_.gid;
        return o;
    }
    [[nodiscard]] Owner created_dir_owner() const { return Owner{spec_.uid.value_or(0), spec_.gid.value_or(0)}; }
    [[nodiscard]] mode_t perm_for(const struct stat& st) const { return spec_.mode ? *spec_.mode : st.st_mode & 07777; }

    void copy_source(const CopySource& src) {
        const std::string src_desc = src.path;
        unique_fd sfd;
        try {
            sfd = open_in_root(src.root_fd, src.path, O_PATH);
        } catch (const SystemError& e) {
            throw Error("copy " + src.path + ": source not found: " + e.what());
        }
        struct stat st{};
        if (::fstat(sfd.get(), &st) != 0) throw_errno("stat", src_desc);
        const std::string name = !src.name.empty() ? src.name : base_name(src.path == "." ? "/" : src.path);

        if (S_ISDIR(st.st_mode)) {
            copy_dir_source(src, sfd.get(), st);
            return;
        }
        if (S_ISREG(st.st_mode) && spec_.extract_archives) {
            unique_fd rfd = open_in_root(src.root_fd, src.path, O_RDONLY | O_NOCTTY);
            if (is_tar_archive(rfd.get())) {
                extract_archive(rfd.get(), src_desc);
                return;
            }
        }
        // A single non-directory: find the directory and the name it lands under.
        DestDir dir;
        std::string final_name = name, dst_path;
        if (spec_.dest_trailing_slash) {
            dir = ensure_dest_dirs(root_, spec_.dest, created_dir_owner());
            dst_path = join_path(container_path(spec_.dest), name);
        } else if (existing_dir(spec_.dest)) {
            dir.fd = open_in_root(root_, spec_.dest, O_PATH | O_DIRECTORY);
            dst_path = join_path(container_path(spec_.dest), name);
        } else {
            const std::string dest = follow_dest_symlinks(spec_.dest);
            dir = ensure_dest_dirs(root_, dir_name(dest), created_dir_owner());
            final_name = base_name(dest);
            dst_path = container_path(dest);
        }
        // Top-level: the source symlink was followed, so copy what it points to.
        copy_nondir_followed(src, st, dir.fd.get(), final_name, dst_path);
    }

    // A destination file path that is a symlink in the image (to a file, or dangling) is
    // followed inside the root, and the file lands at its target: both of Docker's builders
    // resolve the whole destination path (BuildKit's fs.RootPath), so the link stays.
    // Symlinks met below a copied directory are replaced instead (copy_entry).
    [[nodiscard]] std::string follow_dest_symlinks(std::string path) const {
        for (int hops = 0; hops < 40; ++hops) {
            unique_fd parent;
            try {
                parent = open_in_root(root_, dir_name(path), O_PATH | O_DIRECTORY);
            } catch (const SystemError&) {
                return path;  // missing parents are created by the caller
            }
            char buf[PATH_MAX];
            ssize_t n = ::readlinkat(parent.get(), base_name(path).c_str(), buf, sizeof buf);
            if (n < 0) return path;  // not a symlink, or nothing there yet
            std::string target(buf, static_cast<size_t>(n));
            path = target.starts_with('/') ? target : join_path(dir_name(path), target);
        }
        throw_errno(ELOOP, "resolve destination", container_path(spec_.dest));
    }

    [[nodiscard]] bool existing_dir(const std::string& path) const {
        try {
            unique_fd fd = open_in_root(root_, path, O_PATH | O_DIRECTORY);
            return true;
        } catch (const SystemError&) {
            return false;
        }
    }

    void copy_dir_source(const CopySource& src, int sfd, const struct stat& st) {
        DestDir dir;
        const std::string dst_path = container_path(spec_.dest);
        try {
            dir = ensure_dest_dirs(root_, spec_.dest, created_dir_owner());
        } catch (const Error& e) {
            throw Error("cannot copy directory " + src.path + " to " + dst_path + ": " + e.what());
        }
        unique_fd src_dir(::openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!src_dir) throw_errno("open", src.path);
        unique_fd dst_dir(::openat(dir.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dst_dir) throw_errno("open", dst_path);
        copy_children(src, src_dir.get(), src.path, "", dst_dir.get(), dst_path);
        if (dir.created) {
            apply_metadata_fd(dst_dir.get(), owner_for(st), perm_for(st), st.st_mtim, dst_path);
            copy_xattrs(src_dir.get(), dst_dir.get(), src.path, dst_path);
        }
    }

    // The entries of a source directory. `in_src` is the path relative to the source (what
    // --exclude and --parents patterns see, as fsutil's copy matches them). dst_dir < 0: the
    // destination dir is pending (materialize() makes it when something lands in it).
    void copy_children(const CopySource& src, int src_dir, const std::string& src_rel, const std::string& in_src,
                       int dst_dir, const std::string& dst_path) {
        for (const auto& child : list_sorted(src_dir, src_rel)) {
            const std::string child_rel = join_path(src_rel, child);
            const std::string child_in_src = join_path(in_src, child);
            struct stat st{};
            if (::fstatat(src_dir, child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) continue;
                throw_errno("stat", child_rel);
            }
            const bool is_dir = S_ISDIR(st.st_mode);
            if (spec_.ignore && !spec_.ignore->empty() && spec_.ignore->excluded(child_rel) &&
                !(is_dir && spec_.ignore->may_include_below(child_rel)))
                continue;
            // BuildKit's include/exclude: an entry that is not itself selected is skipped, but
            // a directory is still walked when something below it may be (an include pattern
            // such as a/*/c, or an exception "!a/b" under an excluded a); its copy is then
            // made only if something below it is copied.
            bool selected = true, walk = true;
            if (src.include && !src.include->excluded(child_in_src)) {
                selected = false;
                walk = src.include->may_match_below(child_in_src);
            }
            if (spec_.exclude && spec_.exclude->excluded(child_in_src)) {
                selected = false;
                walk = walk && spec_.exclude->may_include_below(child_in_src);
            }
            const std::string child_dst = join_path(dst_path, child);
            if (!selected) {
                if (is_dir && walk) walk_pending_dir(src, src_dir, child, child_rel, child_in_src, st, dst_dir, child_dst);
                continue;
            }
            const int dfd = dst_dir >= 0 ? dst_dir : materialize();
            copy_entry(src, src_dir, child, child_rel, child_in_src, st, dfd, child, child_dst);
        }
    }

    // A directory walked but not (yet) copied: pushed as pending, made by materialize().
    void walk_pending_dir(const CopySource& src, int src_parent, const std::string& name, const std::string& src_rel,
                          const std::string& in_src, const struct stat& st, int dst_parent,
                          const std::string& dst_path) {
        unique_fd in(::openat(src_parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!in) throw_errno("open", src_rel);
        pending_.push_back(Pending{st, name, src_rel, dst_path, dst_parent, {}, false});
        try {
            copy_children(src, in.get(), src_rel, in_src, -1, dst_path);
        } catch (...) {
            pending_.pop_back();
            throw;
        }
        Pending done = std::move(pending_.back());
        pending_.pop_back();
        if (done.created) {
            apply_metadata_fd(done.dst.get(), owner_for(done.st), perm_for(done.st), done.st.st_mtim, dst_path);
            copy_xattrs(in.get(), done.dst.get(), src_rel, dst_path);
        }
    }

    // Makes the pending directories (outermost first) and returns the innermost one's fd.
    int materialize() {
        for (size_t i = 0; i < pending_.size(); ++i) {
            Pending& p = pending_[i];
            if (p.dst) continue;
            const int parent = p.dst_parent >= 0 ? p.dst_parent : pending_[i - 1].dst.get();
            OpenedDir d = open_or_make_dir(parent, p.name, p.src_rel, p.dst_path);
            p.dst = std::move(d.fd);
            p.created = d.created;
        }
        return pending_.back().dst.get();
    }

    // One entry below a copied directory: symlinks are copied, not followed.
    void copy_entry(const CopySource& src, int src_dir, const std::string& name, const std::string& src_rel,
                    const std::string& in_src, const struct stat& st, int dst_dir, const std::string& dst_name,
                    const std::string& dst_path) {
        switch (st.st_mode & S_IFMT) {
            case S_IFDIR: copy_subdir(src, src_dir, name, src_rel, in_src, st, dst_dir, dst_name, dst_path); return;
            case S_IFREG: {
                unique_fd in(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
                if (!in) throw_errno("open", src_rel);
                copy_regular(in.get(), st, src_rel, dst_dir, dst_name, dst_path);
                return;
            }
            case S_IFLNK: copy_symlink(src_dir, name, src_rel, st, dst_dir, dst_name, dst_path); return;
            case S_IFCHR:
            case S_IFBLK:
            case S_IFIFO: copy_special(st, src_rel, dst_dir, dst_name, dst_path); return;
            default: log::debug("skipping socket " + src_rel); return;
        }
    }

    // The top-level non-directory source (already followed to its target).
    void copy_nondir_followed(const CopySource& src, const struct stat& st, int dst_dir,
                              const std::string& dst_name, const std::string& dst_path) {
        if (S_ISREG(st.st_mode)) {
            unique_fd in = open_in_root(src.root_fd, src.path, O_RDONLY | O_NOCTTY);
            copy_regular(in.get(), st, src.path, dst_dir, dst_name, dst_path);
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
            copy_special(st, src.path, dst_dir, dst_name, dst_path);
        } else {
            throw Error("cannot copy " + src.path + ": unsupported file type");
        }
    }

    struct OpenedDir {
        unique_fd fd;
        bool created = false;
    };

    // The destination directory dst_parent/dst_name: an existing one (an image symlink to a
    // directory, lib -> usr/lib, is merged into, in the root), or a new one (0700 until its
    // metadata is applied after its contents).
    OpenedDir open_or_make_dir(int dst_parent, const std::string& dst_name, const std::string& src_rel,
                               const std::string& dst_path) {
        OpenedDir d;
        struct stat dst_st{};
        if (::fstatat(dst_parent, dst_name.c_str(), &dst_st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) throw_errno("stat", dst_path);
            if (::mkdirat(dst_parent, dst_name.c_str(), 0700) != 0) throw_errno("mkdir", dst_path);
            d.created = true;
        } else if (S_ISLNK(dst_st.st_mode)) {
            if (!existing_dir(dst_path)) {
                if (::unlinkat(dst_parent, dst_name.c_str(), 0) != 0) throw_errno("unlink", dst_path);
                if (::mkdirat(dst_parent, dst_name.c_str(), 0700) != 0) throw_errno("mkdir", dst_path);
                d.created = true;
            } else {
                d.fd = open_in_root(root_, dst_path, O_RDONLY | O_DIRECTORY);
            }
        } else if (!S_ISDIR(dst_st.st_mode)) {
            throw Error("cannot copy directory " + src_rel + " to " + dst_path + ": a non-directory exists there");
        }
        if (!d.fd) {
            d.fd.reset(::openat(dst_parent, dst_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!d.fd) throw_errno("open", dst_path);
        }
        return d;
    }

    void copy_subdir(const CopySource& src, int src_parent, const std::string& name, const std::string& src_rel,
                     const std::string& in_src, const struct stat& st, int dst_parent, const std::string& dst_name,
                     const std::string& dst_path) {
        OpenedDir dst = open_or_make_dir(dst_parent, dst_name, src_rel, dst_path);
        unique_fd in(::openat(src_parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!in) throw_errno("open", src_rel);
        copy_children(src, in.get(), src_rel, in_src, dst.fd.get(), dst_path);
        if (dst.created) {
            apply_metadata_fd(dst.fd.get(), owner_for(st), perm_for(st), st.st_mtim, dst_path);
            copy_xattrs(in.get(), dst.fd.get(), src_rel, dst_path);
        }
    }

    // Hardlinks among copied files stay hardlinks: true when this file was linked.
    bool link_if_seen(const struct stat& st, int dst_dir, const std::string& dst_name, const std::string& src_rel,
                      const std::string& dst_path) {
        if (st.st_nlink < 2) return false;
        auto it = links_.find({st.st_dev, st.st_ino});
        if (it == links_.end()) {
            links_.emplace(std::make_pair(st.st_dev, st.st_ino), dst_path);
            return false;
        }
        const std::string& first = it->second;
        if (first == dst_path) return false;
        unique_fd first_dir = open_in_root(root_, dir_name(first), O_PATH | O_DIRECTORY);
        clear_for_nondir(dst_dir, dst_name, src_rel, dst_path);
        if (::linkat(first_dir.get(), base_name(first).c_str(), dst_dir, dst_name.c_str(), 0) != 0)
            throw_errno("link " + first + " to", dst_path);
        return true;
    }

    void copy_regular(int in, const struct stat& st, const std::string& src_rel, int dst_dir,
                      const std::string& dst_name, const std::string& dst_path) {
        if (link_if_seen(st, dst_dir, dst_name, src_rel, dst_path)) return;
        clear_for_nondir(dst_dir, dst_name, src_rel, dst_path);
        unique_fd out(::openat(dst_dir, dst_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) throw_errno("create", dst_path);
        copy_data(in, out.get(), static_cast<uint64_t>(st.st_size), src_rel, dst_path);
        apply_metadata_fd(out.get(), owner_for(st), perm_for(st), st.st_mtim, dst_path);
        copy_xattrs(in, out.get(), src_rel, dst_path);  // after chown, which drops capabilities
    }

    void copy_symlink(int src_dir, const std::string& name, const std::string& src_rel, const struct stat& st,
                      int dst_dir, const std::string& dst_name, const std::string& dst_path) {
        char buf[PATH_MAX];
        ssize_t n = ::readlinkat(src_dir, name.c_str(), buf, sizeof buf);
        if (n < 0) throw_errno("readlink", src_rel);
        clear_for_nondir(dst_dir, dst_name, src_rel, dst_path);
        if (::symlinkat(std::string(buf, static_cast<size_t>(n)).c_str(), dst_dir, dst_name.c_str()) != 0)
            throw_errno("symlink", dst_path);
        apply_metadata_at(dst_dir, dst_name.c_str(), owner_for(st), std::nullopt, st.st_mtim, dst_path);
    }

    void copy_special(const struct stat& st, const std::string& src_rel, int dst_dir, const std::string& dst_name,
                      const std::string& dst_path) {
        clear_for_nondir(dst_dir, dst_name, src_rel, dst_path);
        if (::mknodat(dst_dir, dst_name.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0)
            throw_errno("mknod", dst_path);
        apply_metadata_at(dst_dir, dst_name.c_str(), owner_for(st), perm_for(st), st.st_mtim, dst_path);
    }

    void extract_archive(int fd, const std::string& src_desc);

    // A directory being walked whose copy is not made yet (see walk_pending_dir).
    struct Pending {
        struct stat st;
        std::string name, src_rel, dst_path;
        int dst_parent;  // < 0: the previous pending entry
        unique_fd dst;   // set once made
        bool created;
    };

    int root_;
    const CopySpec& spec_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;  // source inode -> first dest path
    std::vector<Pending> pending_;
};

// ---------------------------------------------------------------------------------------
// ADD of a local archive: the one layer extractor (oci::extract_layer_tar), with ADD's
// options. The entries are resolved with dest as their root (as Docker's chrootarchive):
// nothing lands outside dest, whatever the archive's paths, symlinks and hard links.

void Copier::extract_archive(int fd, const std::string& src_desc) {
    if (::lseek(fd, 0, SEEK_SET) != 0) throw_errno("seek", src_desc);
    const std::string dest_path = container_path(spec_.dest);
    DestDir dest = ensure_dest_dirs(root_, spec_.dest, created_dir_owner());
    oci::ExtractOptions opts;
    opts.whiteouts = false;  // Docker's Untar: .wh. files are content here, not layer whiteouts
    opts.follow_symlinks_in_target = true;
    opts.apply_root_entry = false;
    if (spec_.uid) opts.uid = *spec_.uid;
    if (spec_.gid) opts.gid = *spec_.gid;
    if (spec_.mode) opts.perm = *spec_.mode;
    opts.keep_xattr = [](std::string_view name) { return copied_xattr(name); };  // as a copy keeps
    opts.xattr_errors_warn = true;
    try {
        (void)oci::extract_layer_tar(fd, dest.fd.get(), dest_path, opts);
    } catch (const Error& e) {
        throw Error("ADD " + src_desc + ": " + e.what());
    }
}

}  // namespace

bool is_tar_archive(int fd) { return oci::is_tar_stream(fd); }

void copy_into_root(int dest_root_fd, const CopySpec& spec) { Copier(dest_root_fd, spec).run(); }

void write_file_in_root(int dest_root_fd, const std::string& dest_path, std::string_view content, mode_t mode,
                        uid_t uid, gid_t gid) {
    DestDir dir = ensure_dest_dirs(dest_root_fd, dir_name(dest_path), Owner{0, 0});
    const std::string name = base_name(dest_path);
    const std::string path = container_path(dest_path);
    clear_for_nondir(dir.fd.get(), name, "<<heredoc", path);
    unique_fd out(::openat(dir.fd.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw_errno("create", path);
    write_all(out.get(), content, path);
    if (::fchown(out.get(), uid, gid) != 0) throw_errno("chown", path);
    if (::fchmod(out.get(), mode & 07777) != 0) throw_errno("chmod", path);
}

void place_downloaded_file(int dest_root_fd, const std::string& dest, bool dest_trailing_slash,
                           const std::string& url_basename, int fd, mode_t mode, uid_t uid, gid_t gid,
                           std::optional<timespec> mtime) {
    DestDir dir;
    std::string name, path;
    bool into_dir = dest_trailing_slash;
    if (!into_dir) {
        try {
            unique_fd d = open_in_root(dest_root_fd, dest, O_PATH | O_DIRECTORY);
            into_dir = true;
        } catch (const SystemError&) {
        }
    }
    if (into_dir) {
        if (url_basename.empty() || url_basename == "." || url_basename == ".." ||
            url_basename.find('/') != std::string::npos)
            throw Error("ADD: cannot derive a file name from the URL; give a destination file name");
        dir = ensure_dest_dirs(dest_root_fd, dest, Owner{uid, gid});
        name = url_basename;
        path = join_path(container_path(dest), name);
    } else {
        dir = ensure_dest_dirs(dest_root_fd, dir_name(dest), Owner{uid, gid});
        name = base_name(dest);
        path = container_path(dest);
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0) throw_errno("stat", "downloaded file for " + path);
    clear_for_nondir(dir.fd.get(), name, "downloaded file", path);
    unique_fd out(::openat(dir.fd.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw_errno("create", path);
    if (::lseek(fd, 0, SEEK_SET) != 0) throw_errno("seek", "downloaded file for " + path);
    copy_data(fd, out.get(), static_cast<uint64_t>(st.st_size), "downloaded file", path);
    timespec when{};
    if (mtime) {
        when = *mtime;
    } else {
        when.tv_nsec = UTIME_NOW;
    }
    apply_metadata_fd(out.get(), Owner{uid, gid}, mode, when, path);
}

}  // namespace imgbuild::builder
