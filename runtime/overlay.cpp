#include "runtime/overlay.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/digest.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "runtime/network_private.h"

namespace imgbuild::runtime {
namespace {

// DESIGN.md §4: the upper dir must be a complete diff.
constexpr const char* kOverlayOptions = "redirect_dir=off,metacopy=off,index=off";
// In a user namespace the kernel refuses redirect_dir=off beside userxattr ("conflicting
// options"); nofollow neither creates nor follows redirects either, so the upper dir stays a
// complete diff.
constexpr const char* kRootlessOverlayOptions = "redirect_dir=nofollow,metacopy=off,index=off,userxattr";

constexpr const char* kInitLayerDirs[] = {"proc", "sys", "dev", "etc"};
constexpr const char* kInitLayerFiles[] = {"etc/hosts", "etc/hostname", "etc/resolv.conf"};

constexpr const char* kHostsNetworked =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

// Whether `path` is a file of ours exactly as write_small_file makes it with `data`: the
// content, mode 0644, our owner, one link, no xattr. A container can write, chmod, chown or
// tag these files (they are bind-mounted rw); such a file is made again for the next one.
bool holds_exactly(const fs::path& path, std::string_view data) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return false;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644 || st.st_uid != ::geteuid() ||
        st.st_gid != ::getegid() || st.st_nlink != 1 || static_cast<size_t>(st.st_size) != data.size())
        return false;
    if (::flistxattr(fd.get(), nullptr, 0) != 0) return false;
    std::string have(data.size() + 1, '\0');  // one more: a file that grew since the fstat
    ssize_t n = ::pread(fd.get(), have.data(), have.size(), 0);
    return n == static_cast<ssize_t>(data.size()) && std::string_view(have.data(), data.size()) == data;
}

// A build's RUN steps reuse one run dir: a file that already holds `data` is left as it is
// (ext4 without a journal scans recently deleted inodes at every inode creation, so each
// unlink and create costs more than the compare). Otherwise a new inode, not O_TRUNC: ext4
// starts writeback of a file truncated from non-empty (auto_da_alloc), ~0.13 ms a file.
void write_small_file(const fs::path& path, std::string_view data) {
    if (holds_exactly(path, data)) return;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("unlink", path.string());
    auto fd = open_or_throw(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    write_all(fd.get(), data, path);
}

std::string read_if_exists(const fs::path& path) {
    if (::access(path.c_str(), R_OK) != 0) return {};
    return read_file(path);
}

// The host's resolv.conf; a systemd-resolved stub (127.0.0.53) is unreachable from a new
// network namespace, so the upstream list is used there instead (as Docker does).
std::string resolv_conf_for(NetworkMode mode) {
    std::string conf = read_if_exists("/etc/resolv.conf");
    // slirp4netns answers DNS on 10.0.2.3 and asks the host's resolvers itself.
    if (mode == NetworkMode::private_ && private_network_available()) return private_resolv_conf(conf);
    if (mode != NetworkMode::host && conf.find("127.0.0.53") != std::string::npos) {
        std::string upstream = read_if_exists("/run/systemd/resolve/resolv.conf");
        if (!upstream.empty()) conf = upstream;
    }
    return conf;
}

std::string hosts_for(const ContainerSpec& spec) {
    if (spec.network == NetworkMode::host) {
        std::string host = read_if_exists("/etc/hosts");
        if (!host.empty()) return host;
    }
    return std::string(kHostsNetworked) + "127.0.1.1\t" + spec.hostname + "\n";
}

std::string lower_entry(const fs::path& lower, const fs::path& links_dir) {
    if (links_dir.empty()) return lower.string();
    return links_dir.filename().string() + "/" + short_link_name(lower);
}

}  // namespace

std::string short_link_name(const fs::path& lower_dir) {
    return Digest::of(lower_dir.lexically_normal().string()).hex().substr(0, 12);
}

OverlayMount overlay_options(const std::vector<fs::path>& lowers, const fs::path& init_layer, const fs::path& upper,
                             const fs::path& work, const fs::path& links_dir, bool rootless, bool volatile_mount) {
    OverlayMount m;
    m.data = "lowerdir=";
    // The option lists the top layer first; the spec gives the bottom first.
    for (auto it = lowers.rbegin(); it != lowers.rend(); ++it) m.data += lower_entry(*it, links_dir) + ":";
    m.data += lower_entry(init_layer, links_dir);
    if (!upper.empty()) m.data += ",upperdir=" + upper.string() + ",workdir=" + work.string();
    m.data += std::string(",") + (rootless ? kRootlessOverlayOptions : kOverlayOptions);
    if (volatile_mount) m.data += ",volatile";
    if (!links_dir.empty()) m.chdir_to = links_dir.parent_path();
    return m;
}

void ensure_short_links(const std::vector<fs::path>& lowers, const fs::path& init_layer, const fs::path& links_dir) {
    if (links_dir.empty()) return;
    make_dirs(links_dir, 0700);
    auto ensure = [&](const fs::path& lower) {
        fs::path target = fs::absolute(lower).lexically_normal();
        fs::path link = links_dir / short_link_name(lower);
        if (::symlink(target.c_str(), link.c_str()) == 0) return;
        if (errno != EEXIST) throw_errno("symlink " + link.string() + " ->", target.string());
        char buf[4096];
        ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
        if (n < 0) throw_errno("readlink", link.string());
        if (std::string_view(buf, static_cast<size_t>(n)) != target.string())
            throw Error("short link " + link.string() + " points to " + std::string(buf, static_cast<size_t>(n)) +
                        ", not " + target.string());
    };
    for (const auto& l : lowers) ensure(l);
    if (!init_layer.empty()) ensure(init_layer);
}

namespace {

struct MountJob {
    const char* dir;
    const char* target;
    const char* data;
    int err = 0;
};

// Runs in the vfork child (shared memory, own cwd): only raw syscalls, then _exit.
int mount_in_child(void* p) {
    auto* job = static_cast<MountJob*>(p);
    if (::chdir(job->dir) != 0 || ::mount("overlay", job->target, "overlay", 0, job->data) != 0) {
        job->err = errno;
        ::_exit(1);
    }
    ::_exit(0);
}

}  // namespace

void mount_overlay_no_chdir(const OverlayMount& m, const fs::path& target) {
    auto fail = [&](int err) {
        throw_errno(err, "mount overlay on",
                    target.string() + " (" + m.data + (m.chdir_to.empty() ? "" : ", relative to " + m.chdir_to.string()) + ")");
    };
    if (m.chdir_to.empty()) {
        if (::mount("overlay", target.c_str(), "overlay", 0, m.data.c_str()) != 0) fail(errno);
        return;
    }
    MountJob job{m.chdir_to.c_str(), target.c_str(), m.data.c_str()};
    std::vector<char> stack(64 * 1024);
    pid_t pid = ::clone(mount_in_child, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &job);
    if (pid < 0) throw_errno("clone", "overlay mount helper");
    int status = wait_for_child(pid, "overlay mount helper");
    if (job.err != 0) fail(job.err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail(EIO);
}

namespace {

// fsconfig(2) takes a string value of 255 bytes at most.
constexpr size_t kFsconfigValueMax = 255;

bool set_string(int fd, const std::string& key, const std::string& value) {
    return value.size() <= kFsconfigValueMax && ::fsconfig(fd, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) == 0;
}

// `layer` of a lowerdir list as a path that needs no cwd: relative ones (short links) are
// relative to `base`.
std::string absolute_layer(std::string_view layer, const fs::path& base) {
    if (base.empty() || (!layer.empty() && layer.front() == '/')) return std::string(layer);
    return (base / layer).string();
}

// The mount(2) option string `data` as fsconfig calls: "key=value" a string, "key" a flag;
// the lowerdir list with its layers absolute (from `base`), one value when it fits, else one
// layer at a time ("lowerdir+", top first).
bool configure(int fd, const std::string& data, const fs::path& base) {
    for (std::string_view part : split(data, ',')) {
        const std::string option(part);
        auto eq = option.find('=');
        if (eq == std::string::npos) {
            if (::fsconfig(fd, FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0) != 0) return false;
            continue;
        }
        std::string key = option.substr(0, eq), value = option.substr(eq + 1);
        if (key == "lowerdir") {
            std::vector<std::string> layers;
            std::string joined;
            for (std::string_view layer : split(value, ':')) {
                layers.push_back(absolute_layer(layer, base));
                joined += (joined.empty() ? "" : ":") + layers.back();
            }
            if (joined.size() <= kFsconfigValueMax) {
                if (!set_string(fd, key, joined)) return false;
                continue;
            }
            for (const auto& layer : layers)
                if (!set_string(fd, "lowerdir+", layer)) return false;
            continue;
        }
        if (!set_string(fd, key, value)) return false;
    }
    return true;
}

}  // namespace

unique_fd make_detached_overlay(const OverlayMount& m) {
    unique_fd context(::fsopen("overlay", FSOPEN_CLOEXEC));
    if (!context || !configure(context.get(), m.data, m.chdir_to) ||
        ::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return {};
    return unique_fd(::fsmount(context.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV));
}

void attach_overlay(int mount_fd, const fs::path& merged) {
    if (::move_mount(mount_fd, "", AT_FDCWD, merged.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        throw_errno("move_mount (attach the overlay) onto", merged.string());
}

fs::path volatile_marker(const fs::path& work) { return work / "work" / "incompat" / "volatile"; }

void clear_volatile_marker(const fs::path& work) {
    fs::path marker = volatile_marker(work);
    if (::access(marker.c_str(), F_OK) == 0) remove_tree(marker);
}

namespace {

void fill_init_layer(const fs::path& layer) {
    make_dirs(layer);
    for (const char* d : kInitLayerDirs) make_dirs(layer / d);
    for (const char* f : kInitLayerFiles) {
        fs::path p = layer / f;
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) throw_errno("create", p.string());
        ::close(fd);
    }
}

}  // namespace

void ensure_shared_init_layer(const fs::path& layer, const fs::path& staging_dir) {
    struct stat st {};
    if (::lstat(layer.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
    // Filled beside its place and renamed in: the layer exists whole or not at all, and of
    // two containers making it at once one rename wins (the other's copy is dropped).
    TempDir staged(staging_dir, "initlayer");
    fill_init_layer(staged.path());
    if (::chmod(staged.path().c_str(), 0755) != 0) throw_errno("chmod", staged.path().string());
    if (::rename(staged.path().c_str(), layer.c_str()) == 0) {
        (void)staged.release();
        return;
    }
    int err = errno;
    if ((err == EEXIST || err == ENOTEMPTY) && ::lstat(layer.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
    throw_errno(err, "rename " + staged.path().string() + " to", layer.string());
}

fs::path prepare_init_dir(const ContainerSpec& spec) {
    if (spec.init_dir.empty()) throw Error("container spec has no init_dir");
    fs::path layer = spec.shared_init_layer.empty() ? spec.init_dir / "rootfs" : spec.shared_init_layer;
    if (spec.shared_init_layer.empty()) {
        fill_init_layer(layer);
    } else {
        ensure_shared_init_layer(layer, spec.shared_init_staging_dir);
        make_dirs(spec.init_dir);
    }
    write_small_file(spec.init_dir / "hostname", spec.hostname + "\n");
    write_small_file(spec.init_dir / "hosts", hosts_for(spec));
    write_small_file(spec.init_dir / "resolv.conf", resolv_conf_for(spec.network));
    return layer;
}

}  // namespace imgbuild::runtime
