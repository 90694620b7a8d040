#pragma once
// COPY/ADD --exclude and COPY --parents (Dockerfile 1.7 labs, as BuildKit's dockerfile2llb
// and fsutil's copy do them):
//   --exclude=PATTERN (several allowed): moby/patternmatcher patterns ('**', '!' exceptions,
//     a pattern matching a directory excludes all below it), matched against the paths
//     BELOW each source, relative to it: `COPY --exclude=*.txt dir /d/` drops dir/a.txt but
//     not dir/sub/a.txt (that needs **/*.txt); the source itself is never excluded.
//   --parents: each source is an include pattern over the context root (or over the part
//     before a "/./" pivot: `x/./y/*.txt` copies x's y/a.txt as dest/y/a.txt), and what it
//     matches lands under dest with its parent directories. A source with no wildcard must
//     exist; a wildcard may match nothing.
#include <memory>
#include <string>
#include <vector>

#include "builder/copy_files.h"
#include "builder/dockerignore.h"

namespace imgbuild::builder {

class BuildContext;

// The --exclude patterns as a matcher (empty patterns: nullptr). `what` names the
// instruction in errors ("COPY --exclude").
[[nodiscard]] std::unique_ptr<IgnoreMatcher> exclude_matcher(const std::vector<std::string>& excludes,
                                                             const std::string& what);

// One --parents source split at its pivot: root (the part before "/./", "." when none)
// and pattern (relative to root, cleaned; "" matches everything).
struct ParentsSource {
    std::string root;
    std::string pattern;
    bool required = false;  // neither part has a wildcard: root/pattern must exist
};
[[nodiscard]] ParentsSource split_parents_source(const std::string& source);

// The roots a --parents COPY reads (wildcards in a root expanded), for the cache key.
[[nodiscard]] std::vector<std::string> parents_roots(const BuildContext& ctx, const std::vector<std::string>& sources,
                                                     const std::string& instr);

// The CopySources of a --parents COPY: each root with its include pattern. Throws Error as
// BuildContext::match_sources does for a required path that is missing or excluded.
[[nodiscard]] std::vector<CopySource> parents_copy_sources(const BuildContext& ctx,
                                                           const std::vector<std::string>& sources,
                                                           const std::string& instr);

}  // namespace imgbuild::builder
