// `imgbuild [build] [-t NAME]... [-f FILE|-] [--build-arg K=V]... CONTEXT`: the main job.
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "builder/executor.h"
#include "builder/remote_cache.h"
#include "builder/run_network.h"
#include "cli/registry_args.h"
#include "cli/store_access.h"
#include "common/error.h"
#include "common/strings.h"
#include "registry/push.h"

namespace imgbuild::cli {
namespace {

struct BuildArgs {
    std::vector<std::string> tags, build_args, labels, allow, secrets, ssh, cache_from;
    std::string file, target, iidfile, metadata_file, cache_to, network = "default", progress = "auto", output, compression = "gzip";
    std::string context = ".";
    bool no_cache = false, quiet = false, explain = false, squash = false, squash_all = false;
    std::string pull = "missing";  // --pull, and push after the build (--push): registry_args.h
    bool push = false;
    std::string jobs;  // --jobs N; empty: the number of cores
    RegistryArgs reg;
};

// --jobs N: a whole number from 1 (a sequential build) to 256.
unsigned parse_jobs(const std::string& text) {
    if (text.empty()) return 0;
    bool digits = text.size() <= 3 && text.find_first_not_of("0123456789") == std::string::npos;
    unsigned n = digits ? static_cast<unsigned>(std::stoul(text)) : 0;
    if (n < 1 || n > 256) throw UsageError("--jobs " + text + ": want a number of stages from 1 to 256");
    return n;
}

std::pair<std::string, std::string> split_kv(const std::string& kv, const char* flag) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError(std::string(flag) + " " + kv + ": want KEY=VALUE");
    return {kv.substr(0, eq), kv.substr(eq + 1)};
}

// --output type=oci,dest=out.tar (or a bare path: an OCI archive there).
builder::OutputSpec parse_output(const std::string& spec) {
    builder::OutputSpec out{"oci", {}};
    if (spec.find('=') == std::string::npos) {
        out.dest = spec;
        return out;
    }
    for (std::string_view part : split(spec, ',')) {
        auto [k, v] = split_kv(std::string(part), "--output");
        if (k == "type") out.type = v;
        else if (k == "dest") out.dest = v;
        else throw UsageError("--output: unknown key \"" + k + "\" (type, dest)");
    }
    if (out.type != "oci" && out.type != "docker") throw UsageError("--output: type must be oci or docker, not " + out.type);
    if (out.dest.empty()) throw UsageError("--output: dest=FILE is required");
    return out;
}

builder::ProgressMode parse_progress(const std::string& p) {
    static const std::pair<const char*, builder::ProgressMode> modes[] = {{"auto", builder::ProgressMode::auto_},
                                                                          {"plain", builder::ProgressMode::plain},
                                                                          {"tty", builder::ProgressMode::tty},
                                                                          {"json", builder::ProgressMode::json}};
    for (auto [name, mode] : modes)
        if (p == name) return mode;
    throw UsageError("--progress: unknown mode \"" + p + "\" (auto, plain, tty, json)");
}

std::string read_dockerfile(const std::string& file) {
    if (file == "-") {
        std::stringstream ss;
        ss << std::cin.rdbuf();
        return ss.str();
    }
    return read_file(file);
}

builder::BuildOptions to_options(const BuildArgs& a) {
    builder::BuildOptions o;
    o.context_dir = std::filesystem::absolute(a.context).lexically_normal();
    if (!std::filesystem::is_directory(o.context_dir))
        throw UsageError("build context " + a.context + ": not a directory");
    std::string file = a.file.empty() ? (o.context_dir / "Dockerfile").string() : a.file;
    o.dockerfile_name = a.file == "-" ? "Dockerfile" : std::filesystem::path(file).filename().string();
    o.dockerfile_text = read_dockerfile(file);
    o.dockerfile_path = a.file == "-" ? (o.context_dir / "-").string() : std::filesystem::absolute(file).lexically_normal().string();
    o.explain = a.explain;
    if (!a.metadata_file.empty()) o.metadata_file = a.metadata_file;
    for (const auto& c : a.cache_from) o.cache_from.push_back(builder::parse_cache_spec(c, "--cache-from"));
    if (!a.cache_to.empty()) o.cache_to = builder::parse_cache_spec(a.cache_to, "--cache-to");
    for (const auto& t : a.tags) o.tags.push_back(layerstore::normalize_new_tag(t));
    for (const auto& kv : a.build_args) {
        if (kv.find('=') == std::string::npos) {  // --build-arg NAME takes the value from the environment
            if (const char* v = std::getenv(kv.c_str())) o.build_args[kv] = v;
            continue;
        }
        auto [k, v] = split_kv(kv, "--build-arg");
        o.build_args[k] = v;
    }
    for (const auto& kv : a.labels) {
        auto [k, v] = split_kv(kv, "--label");
        o.labels[k] = v;
    }
    if (!a.target.empty()) o.target = a.target;
    o.no_cache = a.no_cache;
    if (a.squash && a.squash_all) throw UsageError("--squash and --squash-all: give one of them");
    o.squash = a.squash;
    o.squash_all = a.squash_all;
    if (!a.iidfile.empty()) o.iidfile = a.iidfile;
    o.network = a.network;
    o.allow = a.allow;
    builder::check_build_network(o);
    o.progress = a.quiet ? builder::ProgressMode::quiet : parse_progress(a.progress);
    if (!a.output.empty()) o.output = parse_output(a.output);
    o.compression = oci::parse_compression(a.compression);
    static const std::pair<const char*, builder::PullPolicy> pulls[] = {
        {"missing", builder::PullPolicy::missing}, {"always", builder::PullPolicy::always},
        {"never", builder::PullPolicy::never}, {"true", builder::PullPolicy::always}, {"false", builder::PullPolicy::missing}};
    bool known = false;
    for (auto [name, policy] : pulls)
        if (a.pull == name) o.pull = policy, known = true;
    if (!known) throw UsageError("--pull: unknown policy \"" + a.pull + "\" (missing, always, never)");
    if (a.push && o.tags.empty()) throw UsageError("--push: name the image with -t REGISTRY/NAME[:TAG]");
    o.registry = to_registry_options(a.reg);
    for (const auto& s : a.secrets) {
        o.secrets.push_back(builder::parse_secret_flag(s));
        (void)builder::read_secret(o.secrets.back());  // a missing file fails now, not at its RUN
    }
    for (const auto& s : a.ssh) o.ssh.push_back(builder::parse_ssh_flag(s, std::getenv("SSH_AUTH_SOCK")));
    o.jobs = parse_jobs(a.jobs);
    return o;
}

VerbRegistration build_verb{"build", "Build an image from a Dockerfile", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<BuildArgs>();
    cmd.add_option("-t,--tag", a->tags, "NAME[:TAG] for the image (repeatable)")->allow_extra_args(false);
    cmd.add_option("-f,--file", a->file, "Dockerfile (default CONTEXT/Dockerfile; - for stdin)");
    cmd.add_option("--build-arg", a->build_args, "KEY=VALUE (repeatable)")->allow_extra_args(false);
    cmd.add_option("--target", a->target, "stage to build");
    cmd.add_flag("--no-cache", a->no_cache, "do not use the build cache");
    cmd.add_flag("--squash", a->squash, "squash the final stage's new layers into one (on top of the base image's)");
    cmd.add_flag("--squash-all", a->squash_all, "squash all the image's layers, the base image's too, into one");
    cmd.add_option("--iidfile", a->iidfile, "write the image id to this file");
    cmd.add_option("--cache-from", a->cache_from,
                   "type=registry,ref=REF or type=local,src=DIR: a remote build cache to use (repeatable)")
        ->allow_extra_args(false);
    cmd.add_option("--cache-to", a->cache_to,
                   "type=registry,ref=REF or type=local,dest=DIR[,mode=min|max][,mounts=true]: export the build cache");
    cmd.add_flag("--explain", a->explain, "say for each cache miss which input changed since the last build of its stage");
    cmd.add_option("--metadata-file", a->metadata_file,
                   "write the image digests, each step's cache key, hit or miss (and why) and timings as JSON");
    cmd.add_option("--network", a->network,
                   "network of RUN steps: default (private, outbound only), none, or host (needs --allow network.host)");
    cmd.add_option("--allow", a->allow, "entitlement to grant: network.host (repeatable)")->allow_extra_args(false);
    cmd.add_option("--progress", a->progress, "auto, plain, tty or json");
    cmd.add_option("-o,--output", a->output, "type=oci|docker,dest=FILE: also write the image as an archive");
    cmd.add_option("--compression", a->compression, "layer compression for --output: gzip, zstd or none");
    cmd.add_option("--label", a->labels, "KEY=VALUE label on the image (repeatable)")->allow_extra_args(false);
    cmd.add_option("--secret", a->secrets, "id=ID,src=FILE|env=VAR: a secret for RUN --mount=type=secret (repeatable)")
        ->allow_extra_args(false);
    cmd.add_option("--ssh", a->ssh, "default|ID[=SOCKET]: an ssh agent for RUN --mount=type=ssh (repeatable)")
        ->allow_extra_args(false);
    cmd.add_flag("-q,--quiet", a->quiet, "print only the image id");
    cmd.add_option("--jobs", a->jobs, "independent stages built at once (default: the number of cores; 1: one after another)");
    cmd.add_option("--pull", a->pull, "pull FROM images: missing (default: when not in the store), always, never")
        ->allow_extra_args(false);
    cmd.add_flag("--push", a->push, "push every -t name to its registry after the build");
    add_registry_args(cmd, a->reg, kTls | kMirror | kPlatform);
    cmd.add_option("context", a->context, "build context directory")->required();
    return [a, &g] {
        builder::BuildOptions opts = to_options(*a);
        auto store = open_store(g);
        auto progress = builder::make_progress(opts.progress);
        auto img = builder::build(*store, opts, *progress);
        if (a->push) {
            registry::PushOptions popts;
            popts.compression = opts.compression == oci::Compression::none ? oci::Compression::gzip : opts.compression;
            auto transfer = registry::make_transfer_progress(a->quiet ? "quiet" : a->progress == "tty" ? "auto" : a->progress);
            for (const auto& t : opts.tags)
                (void)registry::push_image(*store, img, registry::parse_reference(t), opts.registry, popts, *transfer);
        }
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
