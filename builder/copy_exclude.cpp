#include "builder/copy_exclude.h"

#include "builder/build_context.h"
#include "common/error.h"

namespace imgbuild::builder {

std::unique_ptr<IgnoreMatcher> exclude_matcher(const std::vector<std::string>& excludes, const std::string& what) {
    auto m = std::make_unique<IgnoreMatcher>(IgnoreMatcher::from_patterns(excludes, what));
    if (m->empty()) return nullptr;
    return m;
}

ParentsSource split_parents_source(const std::string& source) {
    ParentsSource p;
    std::string pattern = source;
    if (size_t pivot = source.find("/./"); pivot != std::string::npos) {
        p.root = clean_slash_path(source.substr(0, pivot));
        pattern = source.substr(pivot + 3);
    } else {
        p.root = ".";
    }
    while (!p.root.empty() && p.root.front() == '/') p.root.erase(0, 1);
    if (p.root.empty()) p.root = ".";
    // dockerfile2llb: NormalizePath("/", pattern), then the leading '/' dropped.
    std::string cleaned = clean_slash_path("/" + pattern);
    p.pattern = cleaned == "/" ? "" : cleaned.substr(1);
    p.required = !contains_wildcards(p.root) && !contains_wildcards(p.pattern);
    return p;
}

std::vector<std::string> parents_roots(const BuildContext& ctx, const std::vector<std::string>& sources,
                                       const std::string& instr) {
    std::vector<std::string> roots;
    for (const auto& src : sources) roots.push_back(split_parents_source(src).root);
    return ctx.match_all_sources(roots, instr);
}

std::vector<CopySource> parents_copy_sources(const BuildContext& ctx, const std::vector<std::string>& sources,
                                             const std::string& instr) {
    std::vector<CopySource> out;
    for (const auto& src : sources) {
        const ParentsSource p = split_parents_source(src);
        if (p.required) (void)ctx.match_sources(p.root == "." ? p.pattern : p.root + "/" + p.pattern, instr);
        std::shared_ptr<const IgnoreMatcher> include;
        if (!p.pattern.empty())
            include = std::make_shared<IgnoreMatcher>(IgnoreMatcher::from_patterns({p.pattern}, instr + " --parents"));
        const std::vector<std::string> roots = contains_wildcards(p.root)
                                                   ? ctx.match_all_sources({p.root}, instr)
                                                   : ctx.match_sources(p.root, instr);
        for (const auto& root : roots) {
            CopySource cs = ctx.copy_source(root);
            cs.include = include;
            out.push_back(std::move(cs));
        }
    }
    return out;
}

}  // namespace imgbuild::builder
