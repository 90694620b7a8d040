#include "runtime/cgroup_delegation.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "runtime/cgroup_paths.h"

namespace imgbuild::runtime {
namespace {

constexpr const char* kControllers[] = {"cpu", "memory", "pids"};

bool owned_by(const fs::path& p, uid_t owner) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && st.st_uid == owner;
}

// Delegated to us: the directory and the two files that let us fill it and hand controllers
// down are ours (systemd chowns exactly these, with cgroup.threads).
bool delegated(const fs::path& dir, uid_t owner) {
    return owned_by(dir, owner) && owned_by(dir / "cgroup.procs", owner) &&
           owned_by(dir / "cgroup.subtree_control", owner);
}

std::vector<std::string> words_of(const fs::path& file) {
    std::vector<std::string> out;
    try {
        std::istringstream in(read_file(file));
        for (std::string w; in >> w;) out.push_back(w);
    } catch (const Error&) {
    }
    return out;
}

// "0::/user.slice/..." -> "/user.slice/..." (the path in the unified hierarchy); empty if absent.
std::string unified_path(const std::string& proc_self_cgroup) {
    std::istringstream in(proc_self_cgroup);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("0::/", 0) == 0) return line.substr(3);
    return {};
}

// `path` in the hierarchy as the mount shows it: relative to the mount's root ("" for the root
// itself), nullopt when it lies outside (not reachable through this mount).
std::optional<std::string> under_mount_root(const std::string& path, const std::string& mount_root) {
    auto rel = fs::path(path).lexically_normal().lexically_relative(fs::path(mount_root).lexically_normal());
    if (rel.empty() || *rel.begin() == "..") return std::nullopt;
    return rel == "." ? std::string() : rel.string();
}

}  // namespace

bool CgroupDelegation::has(std::string_view controller) const {
    return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

CgroupDelegation find_cgroup_delegation(const fs::path& cgroup_root, const std::string& proc_self_cgroup,
                                        uid_t owner, const std::string& mount_root) {
    CgroupDelegation out;
    fs::path unified;
    if (fs::exists(cgroup_root / "cgroup.controllers")) {
        unified = cgroup_root;
    } else if (fs::exists(cgroup_root / "unified" / "cgroup.controllers")) {
        unified = cgroup_root / "unified";
    } else {
        out.problem = "this host has only cgroup v1 (no unified hierarchy to delegate)";
        return out;
    }
    // Walk up from our own cgroup while the parent is still ours: the top is the delegation.
    // /proc gives the full path in the hierarchy; inside a container whose /sys/fs/cgroup
    // shows only its own cgroup (mount root not "/"), the dir is that path made relative to
    // the mount's root (as runtime/cgroup_paths.h does for the container's cgroups).
    std::string full = unified_path(proc_self_cgroup);
    std::string own;
    if (!full.empty()) {
        auto visible = under_mount_root(full, mount_root);
        if (!visible) {
            out.problem = "our cgroup " + full + " is outside what " + unified.string() + " shows (its mount root " +
                          mount_root + ")";
            return out;
        }
        own = *visible;
    }
    fs::path dir;
    // The mount's own top counts only when it is not the hierarchy's root (which nobody is
    // delegated): inside such a container it may well be the delegated cgroup.
    const bool top_may_be_ours = fs::path(mount_root).lexically_normal() != "/";
    for (fs::path p = fs::path(own).lexically_normal();; p = p.parent_path()) {
        const bool top = p.empty() || p == "/" || p == ".";
        if (top && !top_may_be_ours) break;
        if (p.string().find("..") != std::string::npos) break;  // /proc says no such thing; be safe
        fs::path here = top ? unified : unified / p;
        if (delegated(here, owner)) dir = here;
        else if (!dir.empty()) break;
        if (top) break;
    }
    if (dir.empty()) {
        out.problem = "no delegated cgroup v2 subtree: our cgroup " +
                      (own.empty() ? unified.string() + " (the root) is not ours"
                                   : (unified / own).string() + " and its parents are not ours") +
                      " (systemd --user with Delegate=yes, or "
                      "`systemd-run --user --scope -p Delegate=yes imgbuild ...`, gives one)";
        if (unified != cgroup_root) out.problem = "this host is hybrid (cgroup v1 controllers); " + out.problem;
        return out;
    }
    out.dir = dir;
    for (const auto& c : words_of(dir / "cgroup.subtree_control"))
        if (std::find(std::begin(kControllers), std::end(kControllers), c) != std::end(kControllers))
            out.controllers.push_back(c);
    if (out.controllers.size() < std::size(kControllers)) {
        std::string offered;
        for (const auto& c : out.controllers) offered += (offered.empty() ? "" : " ") + c;
        out.problem = "the delegated cgroup " + dir.string() + " hands its children only \"" + offered +
                      "\" (its cgroup.subtree_control)";
    }
    return out;
}

CgroupDelegation find_own_cgroup_delegation() {
    std::string self;
    try {
        self = read_file("/proc/self/cgroup");
    } catch (const Error&) {
    }
    std::string mount_root = "/";
    if (const auto* unified = find_hierarchy(cgroup_hierarchies_of(::getpid()), "")) mount_root = unified->root;
    return find_cgroup_delegation("/sys/fs/cgroup", self, ::geteuid(), mount_root);
}

}  // namespace imgbuild::runtime
