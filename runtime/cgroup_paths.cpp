#include "runtime/cgroup_paths.h"

#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace imgbuild::runtime {
namespace {

struct CgroupMount {
    std::string fstype;                 // "cgroup" or "cgroup2"
    std::vector<std::string> options;   // super options: "rw", "cpu", "cpuacct", "name=systemd"
    std::filesystem::path mountpoint;
    std::string root;
};

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape_mountinfo(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() &&
            std::all_of(s.begin() + i + 1, s.begin() + i + 4, [](char c) { return c >= '0' && c <= '7'; })) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// "36 31 0:33 /docker/x /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory"
std::vector<CgroupMount> cgroup_mounts(const std::string& mountinfo) {
    std::vector<CgroupMount> out;
    std::istringstream in(mountinfo);
    for (std::string line; std::getline(in, line);) {
        auto fields = split(line, ' ');
        auto dash = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 5 || dash == fields.end() || std::distance(dash, fields.end()) < 4) continue;
        std::string fstype(*(dash + 1));
        if (fstype != "cgroup" && fstype != "cgroup2") continue;
        CgroupMount m{fstype, {}, unescape_mountinfo(fields[4]), unescape_mountinfo(fields[3])};
        for (const auto& o : split(*(dash + 3), ',')) m.options.emplace_back(o);
        out.push_back(std::move(m));
    }
    return out;
}

// Whether `path` is `root` or below it, component-wise ("/a/bc" is not below "/a/b").
bool is_within(const std::string& path, const std::string& root) {
    auto rel = std::filesystem::path(path).lexically_normal().lexically_relative(std::filesystem::path(root).lexically_normal());
    return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

std::vector<CgroupHierarchy> cgroup_hierarchies_from(const std::string& proc_cgroup, const std::string& mountinfo) {
    auto mounts = cgroup_mounts(mountinfo);
    std::vector<CgroupHierarchy> out;
    std::istringstream in(proc_cgroup);
    for (std::string line; std::getline(in, line);) {
        size_t c1 = line.find(':');
        size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        CgroupHierarchy h;
        h.controllers = line.substr(c1 + 1, c2 - c1 - 1);
        h.path = line.substr(c2 + 1);
        // Any one of the line's controllers names the hierarchy; "" is the unified one.
        std::string key = h.controllers.substr(0, h.controllers.find(','));
        const CgroupMount* found = nullptr;
        for (const auto& m : mounts) {
            bool same = key.empty() ? m.fstype == "cgroup2"
                                    : m.fstype == "cgroup" && std::find(m.options.begin(), m.options.end(), key) != m.options.end();
            if (!same) continue;
            // A hierarchy mounted twice (bind mounts): the mount through which our cgroup is reachable.
            if (!found || (!is_within(h.path, found->root) && is_within(h.path, m.root))) found = &m;
        }
        if (found) {
            h.mountpoint = found->mountpoint;
            h.root = found->root;
        }
        out.push_back(std::move(h));
    }
    return out;
}

namespace {

std::vector<CgroupHierarchy> read_hierarchies_of(pid_t pid) {
    try {
        std::string cgroup = read_file(pid == 0 ? std::string("/proc/self/cgroup") : "/proc/" + std::to_string(pid) + "/cgroup");
        return cgroup_hierarchies_from(cgroup, read_file("/proc/self/mountinfo"));
    } catch (const SystemError&) {
        return {};
    }
}

}  // namespace

std::vector<CgroupHierarchy> cgroup_hierarchies_of(pid_t pid) {
    // This process's own are read once: a start asked two or three times (the record's planned
    // dirs, the cgroup, every RUN of a build), ~0.1 ms each for mountinfo, and neither the
    // cgroup mounts nor this process's place in them change under it (imgbuild never moves
    // itself; exec's joiner is a child).
    if (pid == 0) {
        static const std::vector<CgroupHierarchy> own = read_hierarchies_of(0);
        return own;
    }
    return read_hierarchies_of(pid);
}

const CgroupHierarchy* find_hierarchy(const std::vector<CgroupHierarchy>& hierarchies, std::string_view controller) {
    for (const auto& h : hierarchies) {
        if (controller.empty() ? h.controllers.empty() : [&] {
                for (const auto& c : split(h.controllers, ','))
                    if (c == controller) return true;
                return false;
            }())
            return &h;
    }
    return nullptr;
}

std::optional<std::filesystem::path> cgroup_dir(const CgroupHierarchy& h, const std::string& path) {
    if (h.mountpoint.empty() || !is_within(path, h.root)) return std::nullopt;
    auto rel = std::filesystem::path(path).lexically_normal().lexically_relative(std::filesystem::path(h.root).lexically_normal());
    return rel == "." ? h.mountpoint.lexically_normal() : (h.mountpoint / rel).lexically_normal();
}

std::optional<std::filesystem::path> container_cgroup_dir(const CgroupHierarchy& h, const std::string& name,
                                                          bool unified_host) {
    // v2 puts the container at the top of what the mount shows, not under our own cgroup
    // (cgroup_v2.cpp: "no internal processes"); v1 and hybrid's unified nest it under ours.
    const std::string& parent = unified_host && h.controllers.empty() ? h.root : h.path;
    return cgroup_dir(h, (std::filesystem::path(parent) / "imgbuild" / name).string());
}

}  // namespace imgbuild::runtime
