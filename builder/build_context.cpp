#include "builder/build_context.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "builder/cache_explain.h"
#include "builder/copy_files.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"

namespace imgbuild::builder {

namespace {

std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) out.emplace_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::string join(const std::string& dir, std::string_view name) {
    if (dir.empty() || dir == ".") return std::string(name);
    std::string r = dir;
    r += '/';
    r += name;
    return r;
}

// Drops the escapes of a wildcard-free segment ("a\\b" -> "ab"), as filepath.Match would.
std::string unescape(std::string_view seg) {
    std::string out;
    for (size_t i = 0; i < seg.size(); ++i) {
        if (seg[i] == '\\' && i + 1 < seg.size()) ++i;
        out += seg[i];
    }
    return out;
}

std::vector<std::string> sorted_names(int dirfd, const std::string& path_for_errors) {
    return sorted_dir_names(dirfd, path_for_errors);
}

char type_char(mode_t m) {
    switch (m & S_IFMT) {
        case S_IFREG: return 'f';
        case S_IFDIR: return 'd';
        case S_IFLNK: return 'l';
        case S_IFCHR: return 'c';
        case S_IFBLK: return 'b';
        case S_IFIFO: return 'p';
        case S_IFSOCK: return 's';
        default: return '?';
    }
}

std::string not_found(std::string_view instr, std::string_view source) {
    return std::string(instr) + " failed: file not found in build context or excluded by .dockerignore: stat " +
           std::string(source) + ": file does not exist";
}

}  // namespace

BuildContext::BuildContext(std::filesystem::path root, IgnoreMatcher ignore, FileHashCache* cache, ContextKind kind)
    : root_(std::move(root)), ignore_(std::move(ignore)), cache_(cache), kind_(kind) {
    root_fd_ = open_or_throw(root_, O_PATH | O_DIRECTORY);
    std::error_code ec;
    root_abs_ = std::filesystem::canonical(root_, ec).string();
    if (ec) root_abs_ = std::filesystem::absolute(root_).lexically_normal().string();
    if (!cache_) {
        own_cache_ = std::make_unique<FileHashCache>();
        cache_ = own_cache_.get();
    }
}

BuildContext::~BuildContext() = default;

std::string BuildContext::clean_in(std::string_view relative) const {
    // In a rootfs "/.." is "/": clean as an absolute path, then drop the '/'.
    if (kind_ == ContextKind::rootfs) {
        std::string c = clean_slash_path("/" + std::string(relative));
        return c == "/" ? "." : c.substr(1);
    }
    return clean_slash_path(relative);
}

std::optional<BuildContext::Resolved> BuildContext::resolve_path(std::string_view cleaned, std::string_view original,
                                                                 std::string_view instr) const {
    // The one in-root resolver (common/path_resolve), with a build context's rules: ".."
    // above the context and absolute links elsewhere than into it (by its host path) are
    // refused, as Docker does; a rootfs (COPY --from) is a plain chroot.
    InRootRules rules;
    if (kind_ != ContextKind::rootfs) {
        rules.refuse_dotdot_at_root = true;
        rules.absolute_link = [this](const std::string& target) -> std::optional<std::string> {
            if (target == root_abs_) return std::string();
            if (target.starts_with(root_abs_ + "/")) return target.substr(root_abs_.size() + 1);
            return std::nullopt;
        };
    }
    std::optional<InRootPath> found;
    try {
        found = resolve_path_in_root(root_fd_.get(), cleaned, rules);
    } catch (const OutsideRootError& e) {
        throw Error(std::string(instr) + " failed: forbidden path outside the build context: " + std::string(original) +
                    (e.link().empty() ? "" : " (symlink " + e.link() + " -> " + e.target() + ")"));
    } catch (const SystemError& e) {
        if (e.error_number() == ELOOP) throw_errno(ELOOP, "resolve", (root_ / original).string());
        throw;
    }
    if (!found) return std::nullopt;
    Resolved r;
    r.path = found->path.empty() ? "." : found->path;
    r.st = found->st;
    return r;
}

bool BuildContext::hidden(const std::string& path, const struct stat& st) const {
    if (!ignore_.excluded(path)) return false;
    return !(S_ISDIR(st.st_mode) && ignore_.may_include_below(path));
}

std::vector<std::string> BuildContext::match_sources(std::string_view source, std::string_view instr) const {
    return match(source, instr, false);
}

std::vector<std::string> BuildContext::match_all_sources(const std::vector<std::string>& sources,
                                                         std::string_view instr) const {
    std::vector<std::string> out;
    for (const auto& src : sources)
        for (auto& m : match(src, instr, true)) out.push_back(std::move(m));
    if (out.empty() && !sources.empty())
        throw Error(std::string(instr) + " failed: no source files were specified: nothing in the build context " +
                    "matches the sources (or all are excluded by .dockerignore)");
    return out;
}

std::vector<std::string> BuildContext::match(std::string_view source, std::string_view instr,
                                             bool allow_empty_wildcard) const {
    std::string_view s = source;
    while (!s.empty() && s.front() == '/') s.remove_prefix(1);
    const std::string cleaned = clean_in(s);
    if (cleaned == ".." || cleaned.starts_with("../"))
        throw Error(std::string(instr) + " failed: forbidden path outside the build context: " + std::string(source));

    auto visible = [&](const std::string& path) -> bool {
        auto r = resolve_path(path, source, instr);
        if (!r) return false;
        if (path != "." && hidden(path, r->st)) return false;
        if (r->path != path && r->path != "." && hidden(r->path, r->st)) return false;
        return true;
    };

    if (!contains_wildcards(cleaned)) {
        if (!visible(cleaned)) {
            // There, but .dockerignore hides it: say so, "does not exist" would mislead.
            if (auto r = resolve_path(cleaned, source, instr))
                throw Error(std::string(instr) + " failed: " + std::string(source) +
                            " is in the build context but excluded by .dockerignore");
            throw Error(not_found(instr, source));
        }
        return {cleaned};
    }

    // Expand segment by segment, listing only the directories a wildcard segment needs.
    std::vector<std::string> candidates{"."};
    for (const auto& seg : split(cleaned)) {
        std::vector<std::string> next;
        if (!contains_wildcards(seg)) {
            for (auto& c : candidates) next.push_back(join(c, unescape(seg)));
        } else {
            for (auto& c : candidates) {
                auto dir = resolve_path(c, source, instr);
                if (!dir || !S_ISDIR(dir->st.st_mode)) continue;
                unique_fd dfd(::openat(root_fd_.get(), dir->path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                if (!dfd) throw_errno("open", (root_ / dir->path).string());
                for (auto& name : sorted_names(dfd.get(), (root_ / dir->path).string())) {
                    auto m = go_path_match(seg, name);
                    if (!m) throw UsageError(std::string(instr) + " failed: syntax error in pattern \"" +
                                             std::string(source) + "\"");
                    if (*m) next.push_back(join(c, name));
                }
            }
        }
        candidates = std::move(next);
        if (candidates.empty()) break;
    }
    std::vector<std::string> out;
    for (auto& c : candidates)
        if (visible(c)) out.push_back(c);
    if (out.empty() && !allow_empty_wildcard)
        throw Error(std::string(instr) + " failed: no source files were specified: no file in the build context " +
                    "matches \"" + std::string(source) + "\" (or all are excluded by .dockerignore)");
    std::sort(out.begin(), out.end());
    return out;
}

std::string BuildContext::resolve(std::string_view matched_source) const {
    std::string_view s = matched_source;
    while (!s.empty() && s.front() == '/') s.remove_prefix(1);
    const std::string cleaned = clean_in(s);
    if (cleaned == ".." || cleaned.starts_with("../"))
        throw Error("COPY failed: forbidden path outside the build context: " + std::string(matched_source));
    auto r = resolve_path(cleaned, matched_source, "COPY");
    if (!r) throw Error(not_found("COPY", matched_source));
    return r->path;
}

CopySource BuildContext::copy_source(const std::string& matched_source) const {
    CopySource src;
    src.root_fd = root_fd();
    src.path = resolve(matched_source);
    const std::string cleaned = clean_in(matched_source);
    const size_t slash = cleaned.rfind('/');
    src.name = slash == std::string::npos ? cleaned : cleaned.substr(slash + 1);
    return src;
}

void BuildContext::digest_tree(Sha256& h, const std::string& real_path, const std::string& rel, const struct stat& st,
                               int dirfd, const char* name, ContextListing* listing) const {
    std::string rec;
    rec.reserve(160);
    rec += rel;
    rec += '\0';
    rec += type_char(st.st_mode);
    rec += ' ' + std::to_string(st.st_mode & 07777) + ' ' + std::to_string(st.st_uid) + ' ' +
           std::to_string(st.st_gid);
    if (S_ISREG(st.st_mode)) {
        rec += ' ' + std::to_string(st.st_size) + ' ';
        rec += cache_->file_digest(dirfd, name, st, (root_ / real_path).string()).hex();
    } else if (S_ISLNK(st.st_mode)) {
        char buf[PATH_MAX];
        ssize_t n = ::readlinkat(dirfd, name, buf, sizeof buf);
        if (n < 0) throw_errno("readlink", (root_ / real_path).string());
        rec += ' ';
        rec.append(buf, static_cast<size_t>(n));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        rec += ' ' + std::to_string(major(st.st_rdev)) + ':' + std::to_string(minor(st.st_rdev));
    }
    rec += '\n';
    h.update(rec);
    if (listing) listing->add(real_path, rec);
    if (!S_ISDIR(st.st_mode)) return;

    unique_fd dfd(::openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dfd) throw_errno("open", (root_ / real_path).string());
    for (const auto& child : sorted_names(dfd.get(), (root_ / real_path).string())) {
        const std::string child_real = join(real_path, child);
        struct stat cst{};
        if (::fstatat(dfd.get(), child.c_str(), &cst, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;  // vanished while we walked
            throw_errno("stat", (root_ / child_real).string());
        }
        if (!ignore_.empty() && hidden(child_real, cst)) continue;
        digest_tree(h, child_real, rel.empty() ? child : rel + "/" + child, cst, dfd.get(), child.c_str(), listing);
    }
}

Digest BuildContext::content_digest(const std::vector<std::string>& sources, ContextListing* listing) const {
    Sha256 h;
    h.update("imgbuild-context-v1\n");
    for (const auto& s : sources) {
        const std::string real = resolve(s);
        h.update("source ");
        h.update(s);
        h.update(std::string_view("\0\n", 2));
        struct stat st{};
        if (::fstatat(root_fd_.get(), real.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            throw_errno("stat", (root_ / real).string());
        digest_tree(h, real, "", st, root_fd_.get(), real.c_str(), listing);
    }
    return h.finish();
}

}  // namespace imgbuild::builder
