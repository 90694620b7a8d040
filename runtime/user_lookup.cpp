#include "runtime/user_lookup.h"

#include <fcntl.h>

#include <charconv>
#include <optional>

#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "common/strings.h"

namespace imgbuild::runtime {
namespace {

std::optional<uint32_t> parse_id(std::string_view s) {
    uint32_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Calls f(fields) for each well-formed line of a colon-separated database.
template <typename F>
void for_each_entry(std::string_view db, size_t min_fields, F f) {
    for (std::string_view line : split(db, '\n')) {
        if (line.empty() || line[0] == '#') continue;
        auto fields = split(line, ':');
        if (fields.size() >= min_fields) f(fields);
    }
}

struct PasswdEntry {
    std::string name;
    uid_t uid;
    gid_t gid;
    std::string home;
};

std::optional<PasswdEntry> find_passwd(std::string_view passwd, std::string_view name, std::optional<uid_t> uid) {
    std::optional<PasswdEntry> found;
    for_each_entry(passwd, 7, [&](const std::vector<std::string_view>& f) {
        if (found) return;
        auto u = parse_id(f[2]);
        auto g = parse_id(f[3]);
        if (!u || !g) return;
        if ((uid && *u == *uid) || (!uid && f[0] == name)) found = PasswdEntry{std::string(f[0]), *u, *g, std::string(f[5])};
    });
    return found;
}

std::optional<gid_t> find_group_id(std::string_view group, std::string_view name) {
    std::optional<gid_t> found;
    for_each_entry(group, 3, [&](const std::vector<std::string_view>& f) {
        if (!found && f[0] == name) found = parse_id(f[2]);
    });
    return found;
}

std::vector<gid_t> groups_of(std::string_view group, std::string_view user) {
    std::vector<gid_t> out;
    if (user.empty()) return out;
    for_each_entry(group, 4, [&](const std::vector<std::string_view>& f) {
        auto gid = parse_id(f[2]);
        if (!gid) return;
        for (std::string_view member : split(f[3], ','))
            if (member == user) out.push_back(*gid);
    });
    return out;
}

}  // namespace

ResolvedUser resolve_user(std::string_view spec, std::string_view passwd, std::string_view group) {
    ResolvedUser r;
    std::string_view user_part = spec.substr(0, spec.find(':'));
    std::optional<std::string_view> group_part;
    if (auto colon = spec.find(':'); colon != std::string_view::npos) group_part = spec.substr(colon + 1);
    if (user_part.empty()) user_part = "0";

    auto numeric_uid = parse_id(user_part);
    auto entry = find_passwd(passwd, user_part, numeric_uid);
    if (!entry && !numeric_uid) throw Error("unable to find user " + std::string(user_part) + ": no matching entries in passwd file");
    std::string name;
    if (entry) {
        r.uid = entry->uid;
        r.gid = entry->gid;
        r.home = entry->home.empty() ? "/" : entry->home;
        name = entry->name;
    } else {
        r.uid = *numeric_uid;
    }
    if (group_part) {
        if (auto g = parse_id(*group_part)) {
            r.gid = *g;
        } else if (auto named = find_group_id(group, *group_part)) {
            r.gid = *named;
        } else {
            throw Error("unable to find group " + std::string(*group_part) + ": no matching entries in group file");
        }
        // The explicit group is the only supplementary group too, as Docker sets it (`id` in
        // `docker run -u 33:100` prints groups=100; /etc/group memberships do not apply).
        r.groups.push_back(r.gid);
    } else {
        // Only without an explicit group do the user's /etc/group memberships apply; the
        // primary group leads the list, as initgroups(3) makes it.
        r.groups.push_back(r.gid);
        for (gid_t g : groups_of(group, name))
            if (g != r.gid) r.groups.push_back(g);
    }
    return r;
}

ResolvedUser resolve_user_in_current_root(std::string_view spec) {
    // The image owns these files: a FIFO would hang us before exec, a device would never
    // end. Only regular files up to 1 MiB are read (missing ones are empty).
    auto root = open_or_throw("/", O_PATH | O_DIRECTORY);
    std::string what = "look up user \"" + std::string(spec) + "\"";
    auto read_db = [&](const char* path) { return read_small_file_in_root(root.get(), path, what).value_or(std::string()); };
    return resolve_user(spec, read_db("/etc/passwd"), read_db("/etc/group"));
}

}  // namespace imgbuild::runtime
