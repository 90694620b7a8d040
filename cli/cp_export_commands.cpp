// `imgbuild cp C:PATH DEST`, `imgbuild cp SRC C:PATH` and `imgbuild export [-o F] C`.
// Container paths are resolved inside the container root (common/path_resolve.h), never
// through its symlinks to the host: a running container's root is /proc/<pid>/root (its
// volumes included), a stopped one's is its overlay mounted again (builder/container_fs.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "builder/container_fs.h"
#include "builder/container_ops.h"
#include "cli/store_access.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "oci/layer_tar.h"

namespace imgbuild::cli {
namespace {

namespace fs = std::filesystem;

struct CpArgs {
    std::string src, dest, output, container;
};

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// "name:path" where name is a container; a path with a '/' before the ':' is a host path.
std::optional<std::pair<std::string, std::string>> container_ref(const std::string& arg) {
    auto colon = arg.find(':');
    if (colon == std::string::npos || colon == 0 || arg.find('/') < colon) return std::nullopt;
    return std::make_pair(arg.substr(0, colon), arg.substr(colon + 1));
}

// The container's root: /proc/<pid>/root while it runs, else a view of its overlay.
struct Root {
    std::optional<builder::ContainerRootView> view;
    unique_fd fd;
    int get() const { return view ? view->root_fd() : fd.get(); }
};

void open_root(Root& r, const layerstore::Store& store, const std::string& id, bool writable) {
    layerstore::Containers containers(store);
    auto st = builder::current_state(containers, id);
    if (st.status == layerstore::ContainerStatus::running || st.status == layerstore::ContainerStatus::paused) {
        r.fd = open_or_throw("/proc/" + std::to_string(st.pid) + "/root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        return;
    }
    r.view.emplace(store, containers.config(id), writable);
}

void copy_file(int src_fd, int dest_fd, const std::string& what) {
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(src_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read", what);
        if (n == 0) return;
        write_all(dest_fd, std::string_view(buf, static_cast<size_t>(n)), what);
    }
}

std::string base_name(const std::string& p) {
    std::string s = p;
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    auto name = fs::path(s).filename().string();
    return name.empty() || name == "/" ? "" : name;
}

void copy_out(const layerstore::Store& store, const std::string& id, const std::string& path, const std::string& dest) {
    Root root;
    open_root(root, store, id, false);
    unique_fd src = open_in_root(root.get(), path, O_RDONLY);
    struct stat st;
    if (::fstat(src.get(), &st) != 0) throw_errno("fstat", path);
    struct stat dst;
    bool dest_is_dir = ::stat(dest.c_str(), &dst) == 0 && S_ISDIR(dst.st_mode);
    if (S_ISDIR(st.st_mode)) {
        fs::path target = dest_is_dir && !base_name(path).empty() ? fs::path(dest) / base_name(path) : fs::path(dest);
        make_dirs(target);
        builder::copy_tree(store, src.get(), target);
        return;
    }
    fs::path target = dest_is_dir ? fs::path(dest) / base_name(path) : fs::path(dest);
    auto out = open_or_throw(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
    copy_file(src.get(), out.get(), target.string());
}

void copy_in(const layerstore::Store& store, const std::string& src, const std::string& id, const std::string& path) {
    struct stat st;
    if (::stat(src.c_str(), &st) != 0) throw_errno("stat", src);
    Root root;
    open_root(root, store, id, true);
    bool dest_is_dir = false;
    try {
        unique_fd d = open_in_root(root.get(), path, O_PATH);
        struct stat ds;
        dest_is_dir = ::fstat(d.get(), &ds) == 0 && S_ISDIR(ds.st_mode);
    } catch (const SystemError& e) {
        if (e.error_number() != ENOENT) throw;
    }
    std::string target = dest_is_dir ? (fs::path(path) / base_name(src)).string() : path;
    if (S_ISDIR(st.st_mode)) {
        unique_fd dir = mkdirs_in_root(root.get(), target);
        auto srcfd = open_or_throw(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        builder::copy_tree(store, srcfd.get(), fd_path(dir.get()));
        return;
    }
    std::string parent = fs::path(target).parent_path().string();
    (void)mkdirs_in_root(root.get(), parent.empty() ? "/" : parent);
    auto in = open_or_throw(src, O_RDONLY | O_CLOEXEC);
    unique_fd out = open_in_root(root.get(), target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, st.st_mode & 07777);
    copy_file(in.get(), out.get(), id.substr(0, 12) + ":" + target);
}

VerbRegistration cp_verb{"cp", "Copy files between a container and the host", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<CpArgs>();
    cmd.add_option("src", a->src, "CONTAINER:PATH or host path")->required();
    cmd.add_option("dest", a->dest, "host path or CONTAINER:PATH")->required();
    return [a, &g] {
        auto from = container_ref(a->src), to = container_ref(a->dest);
        if (from && to) throw UsageError("cp: copying between containers is not supported");
        if (!from && !to) throw UsageError("cp: one of SRC and DEST must be CONTAINER:PATH");
        if (a->src == "-" || a->dest == "-") throw UsageError("cp: tar streams (\"-\") are not supported; use export");
        auto store = open_store(g);
        layerstore::Containers containers(*store);
        if (from) copy_out(*store, containers.resolve(from->first), from->second, a->dest);
        else copy_in(*store, a->src, containers.resolve(to->first), to->second);
        return 0;
    };
}};

VerbRegistration export_verb{"export", "Write a container's filesystem as a tar", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<CpArgs>();
    cmd.add_option("container", a->container, "container")->required();
    cmd.add_option("-o,--output", a->output, "file (default stdout)");
    return [a, &g] {
        auto store = open_store(g);
        layerstore::Containers containers(*store);
        std::string id = containers.resolve(a->container);
        unique_fd holder;
        int out = open_output(a->output, holder);
        if (out == 1 && ::isatty(1)) throw UsageError("export: refusing to write a tar to a terminal (use -o or a redirect)");
        // A running container is frozen while its files are read, and read through a
        // read-only view of its overlay (without its volumes, as docker export).
        builder::with_container_paused(containers, id, true, [&] {
            builder::ContainerRootView view(*store, containers.config(id), false);
            (void)oci::write_layer_tar(view.path(), out, oci::TarWriteOptions{});
        });
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
