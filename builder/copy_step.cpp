// COPY, ADD and WORKDIR: they write into an overlay of the stage's layers, every
// destination resolved inside that root; the upper dir then becomes the layer.
#include <fcntl.h>
#include <unistd.h>

#include "builder/build_context.h"
#include "builder/build_state.h"
#include "builder/copy_exclude.h"
#include "builder/copy_files.h"
#include "builder/copy_link.h"
#include "builder/from_layers.h"
#include "builder/image_config.h"
#include "builder/rootfs_view.h"
#include "builder/url_fetch.h"
#include "common/error.h"
#include "common/path_resolve.h"
#include "runtime/user_lookup.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

// A writable overlay for one step: upper/, work/, merged/ and an empty bottom dir.
struct StepDirs {
    explicit StepDirs(const layerstore::Store& store) : dir(store.make_temp_dir("copy")) {
        for (const char* d : {"upper", "work", "merged"}) make_dirs(dir.path() / d);
    }
    TempDir dir;
    fs::path upper() const { return dir.path() / "upper"; }
    fs::path work() const { return dir.path() / "work"; }
    fs::path merged() const { return dir.path() / "merged"; }
};

// An image's /etc/passwd or /etc/group for --chown: read as a bounded regular file only
// (a FIFO or a device there would hang the build or eat host memory); missing is "".
std::string read_user_db(int root_fd, const char* path, const std::string& what) {
    return read_small_file_in_root(root_fd, path, what).value_or("");
}

mode_t parse_chmod(const std::string& text, const std::string& label) {
    if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos)
        throw Error(label + ": --chmod=" + text + ": want an octal mode such as 0755");
    return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

bool ends_with_slash(const std::string& dest) {
    return !dest.empty() && (dest.back() == '/' || dest == "." || (dest.size() >= 2 && dest.substr(dest.size() - 2) == "/."));
}

// The sources read from the build context: all but ADD's URLs.
std::vector<std::string> context_sources(const parser::Copy& copy) {
    std::vector<std::string> out;
    for (const auto& src : copy.sources)
        if (!(copy.is_add && is_url(src))) out.push_back(src);
    return out;
}

// What one COPY/ADD copies: its sources matched in `ctx` (with --parents: each root with
// its include pattern).
std::vector<CopySource> matched_sources(const BuildContext& ctx, const std::vector<std::string>& sources, bool parents,
                                        const std::string& instr) {
    if (parents) return parents_copy_sources(ctx, sources, instr);
    std::vector<CopySource> out;
    for (auto& m : ctx.match_all_sources(sources, instr)) out.push_back(ctx.copy_source(m));
    return out;
}

std::string copy_inputs_fingerprint_unlabelled(StepEnv& env, const parser::ResolvedStep& step, ContextListing* listing) {
    const auto& copy = *step.instruction.as<parser::Copy>();
    std::string fp;
    if (!copy.from.empty()) return from_layers(env, copy.from, "COPY --from").fingerprint;
    // (--exclude and --parents are in the instruction text, which the key holds.)
    for (const auto& src : copy.sources) {
        // A URL counts by its content (downloaded now, as Docker does), or by the checksum
        // it must have (then the step verifies it when it runs).
        if (copy.is_add && is_url(src))
            fp += "url:" + src + " " + (copy.checksum.empty() ? env.fetch(src).info.digest.str() : copy.checksum) + "\n";
    }
    const std::vector<std::string> local =
        copy.parents ? parents_roots(env.context(), context_sources(copy), step.instruction.keyword)
                     : env.context().match_all_sources(context_sources(copy), step.instruction.keyword);
    if (!local.empty()) fp += "context:" + env.context().content_digest(local, listing).str();
    return fp;
}

// "step 3/7 COPY a /b: <what>", unless the message already names the step.
std::string with_step_label(const std::string& label, const std::string& what) {
    if (what.starts_with(label)) return what;
    return label + ": " + what;
}

uint64_t copy_step_unlabelled(StepEnv& env, StageState& s, const parser::ResolvedStep& step) {
    const auto& copy = *step.instruction.as<parser::Copy>();
    std::string label = env.step_label(step.instruction);
    StepDirs dirs(env.store);
    // --link: the files go into an empty dir (the upper dir itself, no overlay); the parent
    // is mounted read-only only to resolve --chown names.
    const bool linked = is_linked_copy(step);
    OverlayView view(env.store, s.layers, linked ? fs::path() : dirs.upper(), linked ? fs::path() : dirs.work(),
                     dirs.merged());
    unique_fd linked_root;
    if (linked) linked_root = open_or_throw(dirs.upper(), O_PATH | O_DIRECTORY);
    const int root = linked ? linked_root.get() : view.root_fd();

    CopySpec spec;
    spec.dest = join_workdir(s.config["config"].value("WorkingDir", "/"), copy.dest);
    spec.dest_trailing_slash = ends_with_slash(copy.dest);
    if (spec.dest_trailing_slash && spec.dest != "/") spec.dest += "/";
    // --parents copies each root's contents (a directory) into dest, as BuildKit does.
    if (copy.parents) spec.dest_trailing_slash = true;
    spec.multiple_sources_pattern = copy.sources.size() + copy.heredocs.size() > 1;
    for (const auto& src : copy.sources) spec.multiple_sources_pattern |= contains_wildcards(src);
    if (!copy.chown.empty()) {
        const std::string what = copy.is_add ? "ADD --chown=" + copy.chown : "COPY --chown=" + copy.chown;
        const ChownIds ids = resolve_chown_in(view.root_fd(), copy.chown, what);
        spec.uid = ids.uid;
        spec.gid = ids.gid;
    }
    if (!copy.chmod.empty()) spec.mode = parse_chmod(copy.chmod, label);
    spec.extract_archives = copy.is_add && copy.from.empty();

    // Sources: another stage or image (mounted read-only), or the build context.
    std::optional<StepDirs> from_dirs;
    std::optional<OverlayView> from_view;
    std::optional<BuildContext> from_context;
    if (!copy.from.empty()) {
        FromLayers from = from_layers(env, copy.from, "COPY --from");
        from_dirs.emplace(env.store);
        from_view.emplace(env.store, from.layers, fs::path(), fs::path(), from_dirs->merged());
        from_context.emplace(from_dirs->merged(), IgnoreMatcher(), nullptr, ContextKind::rootfs);
        spec.preserve_ownership = !spec.uid;  // files from a stage or image keep their owners
        spec.sources = matched_sources(*from_context, copy.sources, copy.parents, step.instruction.keyword);
    } else {
        spec.ignore = &env.context().ignore();
        spec.sources = matched_sources(env.context(), context_sources(copy), copy.parents, step.instruction.keyword);
    }
    const auto exclude = exclude_matcher(copy.excludes, step.instruction.keyword + " --exclude");
    spec.exclude = exclude.get();
    if (!spec.sources.empty()) copy_into_root(root, spec);

    // ADD <url>: downloaded, checked against --checksum, placed like a file: dest/<name from
    // the URL> when dest ends in '/' or is a directory, mode 0600, mtime from Last-Modified.
    for (const auto& src : copy.sources) {
        if (!(copy.is_add && is_url(src))) continue;
        const FetchedUrl& d = env.fetch(src);
        if (!copy.checksum.empty() && Digest::parse(copy.checksum) != d.info.digest)
            throw Error(label + ": " + src + ": checksum mismatch: expected " + copy.checksum + ", got " +
                        d.info.digest.str());
        unique_fd in = open_or_throw(d.file, O_RDONLY);
        place_downloaded_file(root, spec.dest, spec.dest_trailing_slash,
                              d.info.file_name.empty() ? "index.html" : d.info.file_name, in.get(),
                              spec.mode.value_or(0600), spec.uid.value_or(0), spec.gid.value_or(0),
                              d.info.last_modified);
    }

    // COPY <<EOF /dest: each heredoc is a file named by its delimiter.
    for (const auto& h : copy.heredocs) {
        std::string dest = spec.dest_trailing_slash || copy.heredocs.size() > 1 ? spec.dest + (spec.dest.back() == '/' ? "" : "/") + h.name : spec.dest;
        write_file_in_root(root, dest, h.body, spec.mode.value_or(0644), spec.uid.value_or(0), spec.gid.value_or(0));
    }

    from_view.reset();
    linked_root.reset();
    view.unmount();
    return commit_upper(env, s, dirs.upper());
}

// BuildKit's WORKDIR is a Mkdir with parents made as the current USER (llb.WithUser): the
// directories it creates are owned by that user (resolved in the image's /etc/passwd and
// /etc/group), so `USER node` + `WORKDIR /home/node/app` gives node a directory it can
// write. Existing directories keep their owner.
uint64_t workdir_step_unlabelled(StepEnv& env, StageState& s, const std::string& path) {
    StepDirs dirs(env.store);
    {
        OverlayView view(env.store, s.layers, dirs.upper(), dirs.work(), dirs.merged());
        const std::string user = s.config["config"].value("User", "");
        runtime::ResolvedUser owner;
        if (!user.empty()) {
            const std::string what = "WORKDIR as USER " + user;
            owner = runtime::resolve_user(user, read_user_db(view.root_fd(), "/etc/passwd", what),
                                          read_user_db(view.root_fd(), "/etc/group", what));
        }
        (void)mkdirs_in_root_owned(view.root_fd(), path, 0755, owner.uid, owner.gid);
        view.unmount();
    }
    return commit_upper(env, s, dirs.upper());
}

}  // namespace

std::string copy_inputs_fingerprint(StepEnv& env, const parser::ResolvedStep& step, ContextListing* listing) {
    try {
        return copy_inputs_fingerprint_unlabelled(env, step, listing);
    } catch (const Error& e) {
        throw Error(with_step_label(env.step_label(step.instruction), e.what()));
    }
}

uint64_t copy_step(StepEnv& env, StageState& s, const parser::ResolvedStep& step) {
    try {
        return copy_step_unlabelled(env, s, step);
    } catch (const Error& e) {
        throw Error(with_step_label(env.step_label(step.instruction), e.what()));
    }
}

uint64_t workdir_step(StepEnv& env, StageState& s, const parser::Instruction& instr, const std::string& path) {
    try {
        return workdir_step_unlabelled(env, s, path);
    } catch (const Error& e) {
        throw Error(with_step_label(env.step_label(instr), e.what()));
    }
}

}  // namespace imgbuild::builder
