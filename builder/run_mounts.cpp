#include "builder/run_mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>

#include "builder/build_context.h"
#include "builder/copy_files.h"
#include "builder/from_layers.h"
#include "builder/image_config.h"
#include "builder/rootfs_view.h"
#include "builder/secrets.h"
#include "builder/ssh_relay.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "layerstore/cache_mounts.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;
using parser::Mount;

namespace {

const char* const kInstr = "RUN --mount";

// Which fields each type takes (BuildKit's reference); anything else set is an error.
struct TypeFields {
    const char* type;
    bool source, from, id, sharing, mode, owner, required, size, env, readonly;
};
constexpr TypeFields kTypes[] = {
    // type      source from   id     sharing mode   owner  required size   env    readonly
    {"bind", true, true, false, false, false, false, false, false, false, true},
    {"cache", true, true, true, true, true, true, false, false, false, true},
    {"tmpfs", false, false, false, false, false, false, false, true, false, false},
    {"secret", false, false, true, false, true, true, true, false, true, false},
    {"ssh", false, false, true, false, true, true, true, false, false, false},
};

const TypeFields& fields_of(const Mount& m) {
    for (const auto& t : kTypes)
        if (m.type == t.type) return t;
    throw Error("unknown mount type \"" + m.type + "\"");
}

void check_fields(const Mount& m) {
    const TypeFields& t = fields_of(m);
    const std::pair<bool, const char*> given[] = {
        {!m.source.empty() && !t.source, "source"}, {!m.from.empty() && !t.from, "from"},
        {!m.id.empty() && !t.id, "id"},             {!m.sharing.empty() && !t.sharing, "sharing"},
        {!m.mode.empty() && !t.mode, "mode"},       {!m.uid.empty() && !t.owner, "uid"},
        {!m.gid.empty() && !t.owner, "gid"},        {m.required && !t.required, "required"},
        {!m.size.empty() && !t.size, "size"},       {!m.env.empty() && !t.env, "env"},
        {m.readonly && !t.readonly && m.type == "tmpfs", "readonly"},
    };
    for (const auto& [bad, name] : given)
        if (bad) throw Error(std::string("mount type ") + m.type + " takes no " + name);
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

mode_t parse_mode(const Mount& m, mode_t fallback) {
    if (m.mode.empty()) return fallback;
    if (m.mode.size() > 4 || m.mode.find_first_not_of("01234567") != std::string::npos)
        throw Error("mode=" + m.mode + ": want an octal mode such as 0755");
    return static_cast<mode_t>(std::stoul(m.mode, nullptr, 8));
}

uint32_t parse_id(const std::string& text, const char* what) {
    if (text.empty()) return 0;
    if (!all_digits(text) || text.size() > 10 || std::stoull(text) > 0xfffffffeULL)
        throw Error(std::string(what) + "=" + text + ": want a number");
    return static_cast<uint32_t>(std::stoul(text));
}

// tmpfs size=: bytes, or with a k/m/g suffix (go-units RAMInBytes, as BuildKit reads it).
std::string tmpfs_size_bytes(const std::string& text) {
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    std::string unit = text.substr(digits);
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!unit.empty() && unit.back() == 'b' && unit.size() == 2) unit.pop_back();
    if (!unit.empty() && unit.back() == 'i' && unit.size() == 2) unit.pop_back();
    static const std::pair<const char*, unsigned long long> units[] = {{"", 1}, {"b", 1}, {"k", 1ULL << 10}, {"m", 1ULL << 20},
                                                                        {"g", 1ULL << 30}};
    if (digits == 0 || digits > 15) throw Error("size=" + text + ": want a size such as 64m");
    for (const auto& [name, factor] : units)
        if (unit == name) return std::to_string(std::stoull(text.substr(0, digits)) * factor);
    throw Error("size=" + text + ": want a size such as 64m (b, k, m or g)");
}

std::string clean_absolute(const std::string& path) {
    auto parts = clean_path_components(path);
    std::string out;
    for (const auto& p : *parts) out += "/" + p;
    return out.empty() ? "/" : out;
}

std::string source_in_context(const Mount& m) { return m.source.empty() ? "." : m.source; }

std::string label_of(StepEnv& env, const parser::ResolvedStep& step, const Mount& m) {
    return env.step_label(step.instruction) + ": --mount=" + m.spec;
}

std::string mount_key(StepEnv& env, const Mount& m) {
    std::string k = "type=" + m.type + ";target=" + m.target;
    auto add = [&k](const char* name, const std::string& v) { k += std::string(";") + name + "=" + v; };
    if (m.type == "cache") {
        add("id", m.id), add("sharing", m.sharing), add("mode", m.mode), add("uid", m.uid), add("gid", m.gid);
        add("ro", m.readonly ? "1" : "0");
        if (!m.from.empty()) add("from", from_layers(env, m.from, "from").fingerprint), add("source", m.source);
    } else if (m.type == "bind") {
        add("rw", m.readonly ? "0" : "1"), add("source", m.source);
        if (!m.from.empty()) {
            add("from", from_layers(env, m.from, "from").fingerprint);
        } else {  // the content of what is bound: a changed source file is a miss
            BuildContext& ctx = env.context();
            add("context", ctx.content_digest(ctx.match_sources(source_in_context(m), kInstr)).str());
        }
    } else if (m.type == "secret" || m.type == "ssh") {
        // The value of a secret never counts: changing it keeps the cached step.
        add("id", m.id), add("env", m.env), add("required", m.required ? "1" : "0"), add("mode", m.mode),
            add("uid", m.uid), add("gid", m.gid);
    } else if (m.type == "tmpfs") {
        add("size", m.size);
    }
    return k;
}

// A tmpfs of the builder's own (private mount namespace), holding the secret files of one
// RUN: their bytes never touch a disk. Unmounted on destruction.
class SecretFiles {
public:
    explicit SecretFiles(const fs::path& dir) : dir_(dir) {
        make_dirs(dir_, 0700);
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=16m") != 0)
            throw_errno("mount tmpfs on", dir_.string());
    }
    ~SecretFiles() { (void)::umount2(dir_.c_str(), MNT_DETACH); }
    SecretFiles(const SecretFiles&) = delete;
    SecretFiles& operator=(const SecretFiles&) = delete;

    fs::path add(const std::string& value, mode_t mode, uid_t uid, gid_t gid) {
        fs::path file = dir_ / std::to_string(count_++);
        unique_fd fd = open_or_throw(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        write_all(fd.get(), value, file);
        if (::fchown(fd.get(), uid, gid) != 0) throw_errno("chown", file.string());
        if (::fchmod(fd.get(), mode & 07777) != 0) throw_errno("chmod", file.string());
        return file;
    }

private:
    fs::path dir_;
    int count_ = 0;
};

// An empty dir or file at `target` in the init layer (never committed), so the runtime
// finds the mount point and makes none in the layer's upper dir.
void make_stub(const fs::path& init_rootfs, const std::string& target, bool is_dir) {
    fs::path p = init_rootfs / clean_absolute(target).substr(1);
    if (is_dir) {
        make_dirs(p);
        return;
    }
    make_dirs(p.parent_path());
    unique_fd fd = open_or_throw(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
}

// The host path of `source` inside a mounted view (resolved in its root) and whether it
// is a directory.
std::pair<fs::path, bool> resolve_in_view(const OverlayView& view, const std::string& source, const std::string& what) {
    unique_fd fd;
    try {
        fd = open_in_root(view.root_fd(), source.empty() ? "/" : source, O_PATH);
    } catch (const SystemError& e) {
        throw Error(what + ": source " + (source.empty() ? "/" : source) + ": " + e.what());
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat", source);
    std::string link = "/proc/self/fd/" + std::to_string(fd.get());
    return {fs::read_symlink(link), S_ISDIR(st.st_mode)};
}

}  // namespace

std::vector<Mount> normalize_mounts(const std::vector<Mount>& mounts, const std::string& workdir) {
    std::vector<Mount> out;
    std::set<std::string> targets;
    int ssh_index = 0;
    for (Mount m : mounts) {
        try {
            check_fields(m);
            if (m.type == "cache" && m.id.empty()) m.id = m.target;  // BuildKit: the target as written
            if (m.type == "secret") {
                if (m.id.empty()) m.id = fs::path(m.target).filename().string();
                if (m.id.empty()) throw Error("a secret mount needs id=");
                if (m.target.empty() && m.env.empty()) m.target = "/run/secrets/" + m.id;
                (void)parse_mode(m, 0400);
            }
            if (m.type == "ssh") {
                if (m.id.empty()) m.id = "default";
                if (m.target.empty()) m.target = "/run/buildkit/ssh_agent." + std::to_string(ssh_index);
                ++ssh_index;
            }
            if (!m.target.empty()) {
                m.target = clean_absolute(join_workdir(workdir, m.target));
                if (m.target == "/") throw Error("target=/ cannot be a mount point");
                if (!targets.insert(m.target).second) throw Error("two mounts on target " + m.target);
            }
            (void)parse_mode(m, 0755);
            (void)parse_id(m.uid, "uid");
            (void)parse_id(m.gid, "gid");
            (void)layerstore::parse_cache_sharing(m.sharing);
            if (m.type == "cache" && m.sharing.empty()) m.sharing = "shared";
            if (!m.size.empty()) (void)tmpfs_size_bytes(m.size);
        } catch (const Error& e) {
            throw Error("--mount=" + m.spec + ": " + e.what());
        }
        out.push_back(std::move(m));
    }
    return out;
}

std::string mounts_fingerprint(StepEnv& env, const parser::ResolvedStep& step) {
    const auto* run = step.instruction.as<parser::Run>();
    if (!run || run->mounts.empty()) return "";
    std::string fp;
    // The key's "var" inputs hold the env; WORKDIR changes a relative target, and the
    // instruction's text holds the mount specs as written.
    try {
        for (const Mount& m : normalize_mounts(run->mounts, "/")) fp += mount_key(env, m) + "\n";
    } catch (const Error& e) {
        throw Error(env.step_label(step.instruction) + ": " + e.what());
    }
    return fp;
}

struct RunMounts::Held {
    std::vector<TempDir> dirs;  // destroyed last: views and relays live in them
    std::vector<std::unique_ptr<OverlayView>> views;
    std::vector<layerstore::CacheMountHandle> caches;
    std::unique_ptr<SecretFiles> secrets;
    std::vector<std::unique_ptr<SshRelay>> relays;
    std::vector<runtime::BindMount> binds;
    std::vector<runtime::TmpfsMount> tmpfs;
    std::vector<std::string> env;

    const OverlayView& view_of(StepEnv& env, const std::string& from, bool writable) {
        TempDir& d = dirs.emplace_back(env.store.make_temp_dir("mount"));
        for (const char* sub : {"upper", "work", "merged"}) make_dirs(d.path() / sub);
        FromLayers src = from_layers(env, from, "from");
        fs::path upper = writable ? d.path() / "upper" : fs::path(), work = writable ? d.path() / "work" : fs::path();
        return *views.emplace_back(std::make_unique<OverlayView>(env.store, src.layers, upper, work, d.path() / "merged"));
    }
};

RunMounts::RunMounts(StepEnv& env, const StageState& s, const parser::ResolvedStep& step, const fs::path& run_dir)
    : held_(std::make_unique<Held>()) {
    const auto& run = *step.instruction.as<parser::Run>();
    Held& h = *held_;
    fs::path init_rootfs = run_dir / "init" / "rootfs";
    std::string workdir = s.config.value("config", nlohmann::json::object()).value("WorkingDir", "/");
    if (workdir.empty()) workdir = "/";
    int ssh_count = 0;
    for (const Mount& m : normalize_mounts(run.mounts, workdir)) {
        const std::string what = label_of(env, step, m);
        uid_t uid = parse_id(m.uid, "uid");
        gid_t gid = parse_id(m.gid, "gid");
        try {
            if (m.type == "tmpfs") {
                h.tmpfs.push_back({m.target, m.size.empty() ? "" : "size=" + tmpfs_size_bytes(m.size), false});
                make_stub(init_rootfs, m.target, true);
            } else if (m.type == "cache") {
                layerstore::CacheMountSetup setup{parse_mode(m, 0755), uid, gid, {}};
                if (!m.from.empty()) {
                    setup.seed = [&env, &h, &m, &what](const fs::path& data) {
                        const OverlayView& view = h.view_of(env, m.from, false);
                        unique_fd data_fd = open_or_throw(data, O_PATH | O_DIRECTORY);
                        CopySpec spec;
                        spec.sources.push_back(CopySource(view.root_fd(), m.source.empty() ? "." : m.source));
                        spec.dest = "/";
                        spec.dest_trailing_slash = true;
                        spec.preserve_ownership = true;
                        try {
                            copy_into_root(data_fd.get(), spec);
                        } catch (const Error& e) {
                            throw Error(what + ": seeding the cache from " + m.from + ": " + e.what());
                        }
                    };
                }
                auto& cache = h.caches.emplace_back(
                    layerstore::open_cache_mount(env.store, m.id, layerstore::parse_cache_sharing(m.sharing), setup));
                h.binds.push_back({cache.data_dir(), m.target, m.readonly});
                make_stub(init_rootfs, m.target, true);
            } else if (m.type == "bind" && m.from.empty()) {
                // The context as COPY reads it (.dockerignore, no symlink out of it), copied:
                // an rw mount's writes go to the copy and vanish with it.
                BuildContext& ctx = env.context();
                auto matches = ctx.match_sources(source_in_context(m), kInstr);
                if (matches.size() != 1) throw Error("source " + m.source + " names " + std::to_string(matches.size()) + " paths");
                TempDir& d = h.dirs.emplace_back(env.store.make_temp_dir("mount"));
                unique_fd root = open_or_throw(d.path(), O_PATH | O_DIRECTORY);
                CopySpec spec;
                spec.sources.push_back(ctx.copy_source(matches.front()));
                spec.dest = "/src";
                spec.ignore = &ctx.ignore();
                spec.preserve_ownership = true;
                copy_into_root(root.get(), spec);
                struct stat st {};
                if (::lstat((d.path() / "src").c_str(), &st) != 0) throw_errno("stat", (d.path() / "src").string());
                h.binds.push_back({d.path() / "src", m.target, m.readonly});
                make_stub(init_rootfs, m.target, S_ISDIR(st.st_mode));
            } else if (m.type == "bind") {
                const OverlayView& view = h.view_of(env, m.from, !m.readonly);
                auto [path, is_dir] = resolve_in_view(view, m.source, what);
                h.binds.push_back({path, m.target, m.readonly});
                make_stub(init_rootfs, m.target, is_dir);
            } else if (m.type == "secret") {
                std::optional<std::string> value;
                for (const auto& src : env.opts.secrets)
                    if (src.id == m.id) value = read_secret(src);
                if (!value) {
                    if (m.required) throw Error("secret " + m.id + " is required but not given (build --secret id=" + m.id + ",src=FILE)");
                    continue;  // BuildKit: an optional secret that is not given is not mounted
                }
                if (!m.env.empty()) h.env.push_back(m.env + "=" + *value);
                if (m.target.empty()) continue;
                if (!h.secrets) h.secrets = std::make_unique<SecretFiles>(h.dirs.emplace_back(env.store.make_temp_dir("secrets")).path() / "fs");
                h.binds.push_back({h.secrets->add(*value, parse_mode(m, 0400), uid, gid), m.target, true});
                make_stub(init_rootfs, m.target, false);
            } else if (m.type == "ssh") {
                const SshSource* agent = nullptr;
                for (const auto& src : env.opts.ssh)
                    if (src.id == m.id) agent = &src;
                if (!agent) {
                    if (m.required) throw Error("ssh agent " + m.id + " is required but not given (build --ssh " + m.id + ")");
                    continue;
                }
                fs::path sock = h.dirs.emplace_back(env.store.make_temp_dir("ssh")).path() / "agent.sock";
                h.relays.push_back(std::make_unique<SshRelay>(sock, agent->socket, parse_mode(m, 0600), uid, gid));
                h.binds.push_back({sock, m.target, false});
                make_stub(init_rootfs, m.target, false);
                if (ssh_count++ == 0) h.env.push_back("SSH_AUTH_SOCK=" + m.target);
            }
        } catch (const Error& e) {
            std::string msg = e.what();
            if (msg.rfind(what, 0) == 0) throw;
            throw Error(what + ": " + msg);
        }
    }
}

RunMounts::~RunMounts() = default;

void RunMounts::add_to(RunOptions& options) const {
    options.binds.insert(options.binds.end(), held_->binds.begin(), held_->binds.end());
    options.tmpfs.insert(options.tmpfs.end(), held_->tmpfs.begin(), held_->tmpfs.end());
    if (!options.env) options.env.emplace();
    for (const auto& kv : held_->env) {
        std::string key = kv.substr(0, kv.find('='));
        auto& e = *options.env;
        e.erase(std::remove_if(e.begin(), e.end(), [&](const std::string& x) { return x.substr(0, x.find('=')) == key; }), e.end());
        e.push_back(kv);
    }
}

}  // namespace imgbuild::builder
