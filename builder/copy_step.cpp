// COPY, ADD and WORKDIR: they write into an overlay of the stage's layers, every
// destination resolved inside that root; the upper dir then becomes the layer.
#include <fcntl.h>
#include <unistd.h>

#include "builder/build_context.h"
#include "builder/build_state.h"
#include "builder/copy_files.h"
#include "builder/image_config.h"
#include "builder/rootfs_view.h"
#include "builder/url_fetch.h"
#include "common/error.h"
#include "oci/path_resolve.h"
#include "runtime/user_lookup.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

namespace {

// A writable overlay for one step: upper/, work/, merged/ and an empty bottom dir.
struct StepDirs {
    explicit StepDirs(const layerstore::Store& store) : dir(store.make_temp_dir("copy")) {
        for (const char* d : {"upper", "work", "merged", "empty"}) make_dirs(dir.path() / d);
    }
    TempDir dir;
    fs::path upper() const { return dir.path() / "upper"; }
    fs::path work() const { return dir.path() / "work"; }
    fs::path merged() const { return dir.path() / "merged"; }
    fs::path empty() const { return dir.path() / "empty"; }
};

// The layers COPY --from reads: an earlier stage (by name or index) or an image.
struct FromSource {
    std::vector<layerstore::LayerInfo> layers;
    std::string fingerprint;
};

FromSource from_source(StepEnv& env, const std::string& from) {
    if (auto idx = env.parsed.find_stage(from)) {
        auto it = env.finished_stages.find(*idx);
        if (it == env.finished_stages.end()) throw Error("COPY --from=" + from + ": stage " + from + " has not been built");
        return {it->second.layers, "stage:" + it->second.state.str()};
    }
    auto img = env.store.find_image(from);
    if (!img) throw Error("COPY --from=" + from + ": no stage or image of that name in the local store");
    return {img->layers, "image:" + img->manifest_digest.str()};
}

std::string read_in_root(int root_fd, const char* path) {
    try {
        unique_fd fd = oci::open_in_root(root_fd, path, O_RDONLY);
        std::string out;
        char buf[8192];
        ssize_t n;
        while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
        return out;
    } catch (const SystemError&) {
        return "";  // an image without /etc/passwd: numeric ids still work
    }
}

mode_t parse_chmod(const std::string& text, const std::string& label) {
    if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos)
        throw Error(label + ": --chmod=" + text + ": want an octal mode such as 0755");
    return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

bool ends_with_slash(const std::string& dest) {
    return !dest.empty() && (dest.back() == '/' || dest == "." || (dest.size() >= 2 && dest.substr(dest.size() - 2) == "/."));
}

}  // namespace

std::string copy_inputs_fingerprint(StepEnv& env, const parser::ResolvedStep& step) {
    const auto& copy = *step.instruction.as<parser::Copy>();
    std::string fp;
    if (!copy.from.empty()) return from_source(env, copy.from).fingerprint;
    std::vector<std::string> local;
    for (const auto& src : copy.sources) {
        if (copy.is_add && is_url(src)) fp += "url:" + src + "\n";
        else
            for (auto& m : env.context().match_sources(src, step.instruction.keyword)) local.push_back(m);
    }
    if (!local.empty()) fp += "context:" + env.context().content_digest(local).str();
    return fp;
}

uint64_t copy_step(StepEnv& env, StageState& s, const parser::ResolvedStep& step) {
    const auto& copy = *step.instruction.as<parser::Copy>();
    std::string label = env.step_label(step.instruction);
    StepDirs dirs(env.store);
    OverlayView view(env.store, s.layers, dirs.upper(), dirs.work(), dirs.merged(), dirs.empty());

    CopySpec spec;
    spec.dest = join_workdir(s.config["config"].value("WorkingDir", "/"), copy.dest);
    spec.dest_trailing_slash = ends_with_slash(copy.dest);
    if (spec.dest_trailing_slash && spec.dest != "/") spec.dest += "/";
    spec.multiple_sources_pattern = copy.sources.size() + copy.heredocs.size() > 1;
    for (const auto& src : copy.sources) spec.multiple_sources_pattern |= contains_wildcards(src);
    if (!copy.chown.empty()) {
        auto user = runtime::resolve_user(copy.chown, read_in_root(view.root_fd(), "/etc/passwd"),
                                          read_in_root(view.root_fd(), "/etc/group"));
        spec.uid = user.uid;
        spec.gid = user.gid;
    }
    if (!copy.chmod.empty()) spec.mode = parse_chmod(copy.chmod, label);
    spec.extract_archives = copy.is_add && copy.from.empty();

    // Sources: another stage or image (mounted read-only), or the build context.
    std::optional<StepDirs> from_dirs;
    std::optional<OverlayView> from_view;
    std::optional<BuildContext> from_context;
    if (!copy.from.empty()) {
        FromSource from = from_source(env, copy.from);
        from_dirs.emplace(env.store);
        from_view.emplace(env.store, from.layers, fs::path(), fs::path(), from_dirs->merged(), from_dirs->empty());
        from_context.emplace(from_dirs->merged(), IgnoreMatcher(), nullptr, ContextKind::rootfs);
        spec.preserve_ownership = !spec.uid;  // files from a stage or image keep their owners
        for (const auto& src : copy.sources)
            for (auto& m : from_context->match_sources(src, step.instruction.keyword))
                spec.sources.push_back(from_context->copy_source(m));
    } else {
        spec.ignore = &env.context().ignore();
        for (const auto& src : copy.sources) {
            if (copy.is_add && is_url(src)) continue;
            for (auto& m : env.context().match_sources(src, step.instruction.keyword))
                spec.sources.push_back(env.context().copy_source(m));
        }
    }
    if (!spec.sources.empty()) copy_into_root(view.root_fd(), spec);

    // ADD <url>: downloaded, checked against --checksum, placed like a file (mode 0600).
    for (const auto& src : copy.sources) {
        if (!(copy.is_add && is_url(src))) continue;
        fs::path tmp = dirs.dir.path() / "download";
        Download d = fetch_url(src, tmp);
        if (!copy.checksum.empty() && Digest::parse(copy.checksum) != d.digest)
            throw Error(label + ": " + src + ": checksum mismatch: expected " + copy.checksum + ", got " + d.digest.str());
        std::string dest = spec.dest;
        if (spec.dest_trailing_slash) dest += d.file_name.empty() ? "index.html" : d.file_name;
        CopySpec one = spec;  // the download is placed by the same in-root copier

        one.sources = {{open_or_throw(dirs.dir.path(), O_PATH | O_DIRECTORY).release(), "download"}};
        one.dest = dest;
        one.dest_trailing_slash = false;
        one.multiple_sources_pattern = false;
        one.extract_archives = false;
        if (!one.mode) one.mode = 0600;
        one.ignore = nullptr;
        copy_into_root(view.root_fd(), one);
        ::close(one.sources[0].root_fd);
    }

    // COPY <<EOF /dest: each heredoc is a file named by its delimiter.
    for (const auto& h : copy.heredocs) {
        std::string dest = spec.dest_trailing_slash || copy.heredocs.size() > 1 ? spec.dest + (spec.dest.back() == '/' ? "" : "/") + h.name : spec.dest;
        write_file_in_root(view.root_fd(), dest, h.body, spec.mode.value_or(0644), spec.uid.value_or(0), spec.gid.value_or(0));
    }

    from_view.reset();
    view.unmount();
    return commit_upper(env, s, dirs.upper());
}

uint64_t workdir_step(StepEnv& env, StageState& s, const std::string& path) {
    StepDirs dirs(env.store);
    {
        OverlayView view(env.store, s.layers, dirs.upper(), dirs.work(), dirs.merged(), dirs.empty());
        (void)oci::mkdirs_in_root(view.root_fd(), path, 0755);
        view.unmount();
    }
    return commit_upper(env, s, dirs.upper());
}

}  // namespace imgbuild::builder
