#pragma once
// The build context: the directory a build reads its COPY/ADD sources from, as Docker
// sees it (the .dockerignore applied, symlinks kept inside the context).
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "builder/dockerignore.h"
#include "builder/file_hash_cache.h"
#include "common/digest.h"
#include "common/unique_fd.h"

namespace imgbuild::builder {

struct CopySource;
class ContextListing;

// How symlinks and ".." behave when resolving sources.
enum class ContextKind {
    // A build context dir: ".." or a symlink leading out of it is an error; an absolute
    // symlink is accepted only when it points into the context by its host path.
    build_context,
    // Another stage's or image's rootfs (COPY --from): chroot semantics, an absolute
    // symlink restarts at the root and ".." stops there (as BuildKit resolves in a rootfs).
    rootfs,
};

class BuildContext {
public:
    // Opens `root` (must be a directory; Error naming it otherwise). `cache` may be null
    // (then an in-memory cache lives as long as this object) and must outlive it.
    BuildContext(std::filesystem::path root, IgnoreMatcher ignore, FileHashCache* cache,
                 ContextKind kind = ContextKind::build_context);
    ~BuildContext();
    BuildContext(const BuildContext&) = delete;
    BuildContext& operator=(const BuildContext&) = delete;

    [[nodiscard]] const std::filesystem::path& root() const { return root_; }
    // O_PATH directory fd of the context root (for CopySource::root_fd).
    [[nodiscard]] int root_fd() const { return root_fd_.get(); }
    [[nodiscard]] const IgnoreMatcher& ignore() const { return ignore_; }

    // The paths one COPY/ADD source names, relative to the context root and cleaned ("."
    // for the root), sorted. A leading '/' means the context root. Wildcards ('*', '?',
    // '[...]', per path segment as Go's filepath.Match) expand over the context.
    // Paths excluded by .dockerignore do not match (an excluded dir still matches when an
    // exception re-includes something below it).
    // Throws Error, prefixed with `instruction_for_errors` ("COPY"), when:
    //   - the source climbs out of the context ("../x"): "forbidden path outside the build context";
    //   - a symlink on the way leads out of the context;
    //   - nothing matches: "file not found in build context or excluded by .dockerignore".
    [[nodiscard]] std::vector<std::string> match_sources(std::string_view source,
                                                         std::string_view instruction_for_errors) const;

    // The matches of all of one instruction's sources, in order. A wildcard that matches
    // nothing is no error while another source matches something (as Docker's classic
    // builder: `COPY *.txt *.md /d/` with no .md file works); nothing at all is an Error.
    // A plain source that does not exist is an Error as in match_sources.
    [[nodiscard]] std::vector<std::string> match_all_sources(const std::vector<std::string>& sources,
                                                             std::string_view instruction_for_errors) const;

    // The real path (relative, symlinks resolved inside the context) of a matched source.
    // Throws Error as match_sources does.
    [[nodiscard]] std::string resolve(std::string_view matched_source) const;

    // What copy_into_root needs for a matched source: the resolved path (top-level symlink
    // followed inside the context) named as written (a file "link" lands as dest/link).
    [[nodiscard]] CopySource copy_source(const std::string& matched_source) const;

    // A digest over everything the sources would copy, in order: for each entry below each
    // source (walked in byte order, .dockerignore honoured): its path relative to the
    // source, type, permission bits (setuid etc. too), uid, gid, size, symlink target,
    // device number and content sha256 (through the FileHashCache). mtime, atime and ctime
    // do not count: `touch` keeps it, an edit or a chmod changes it.
    // A no-op rebuild only stats files: nothing is read when the hash cache hits.
    // `listing`, when given, sees each entry as it is hashed: its path in the context and its
    // record (cache_explain.h keeps them to say which file changed).
    [[nodiscard]] Digest content_digest(const std::vector<std::string>& sources, ContextListing* listing = nullptr) const;

private:
    [[nodiscard]] std::vector<std::string> match(std::string_view source, std::string_view instr,
                                                 bool allow_empty_wildcard) const;
    struct Resolved {
        std::string path;  // "." or "a/b"
        struct stat st{};
    };
    // Follows symlinks inside the context; nullopt when a component does not exist.
    [[nodiscard]] std::optional<Resolved> resolve_path(std::string_view cleaned, std::string_view original,
                                                       std::string_view instr) const;
    [[nodiscard]] std::string clean_in(std::string_view relative) const;
    [[nodiscard]] bool hidden(const std::string& path, const struct stat& st) const;
    void digest_tree(Sha256& h, const std::string& real_path, const std::string& rel, const struct stat& st,
                     int dirfd, const char* name, ContextListing* listing) const;

    std::filesystem::path root_;
    std::string root_abs_;  // canonical absolute root, to map absolute symlinks into the context
    unique_fd root_fd_;
    IgnoreMatcher ignore_;
    FileHashCache* cache_;
    ContextKind kind_;
    std::unique_ptr<FileHashCache> own_cache_;
};

}  // namespace imgbuild::builder
