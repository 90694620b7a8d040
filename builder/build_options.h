#pragma once
// What `imgbuild build` was asked to do (DESIGN.md §1), independent of the command line.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/secrets.h"
#include "oci/compression.h"
#include "registry/client.h"

namespace imgbuild::builder {

enum class ProgressMode { auto_, plain, tty, json, quiet };

// build --pull: when a FROM image is fetched from its registry.
enum class PullPolicy { missing, always, never };

struct OutputSpec {
    std::string type;  // "oci" or "docker"
    std::filesystem::path dest;
};

// --cache-from / --cache-to: type=registry,ref=REF or type=local,src=DIR|dest=DIR
// (builder/remote_cache.h).
struct CacheSpec {
    std::string type;      // "registry" or "local"
    std::string location;  // the ref, or the directory
    bool max = false;      // mode=max: every stage's steps (else the final stage's)
    bool mounts = false;   // mounts=true: type=cache mount contents too
};

struct BuildOptions {
    std::filesystem::path context_dir;
    std::string dockerfile_name = "Dockerfile";  // for error messages
    std::string dockerfile_text;
    std::vector<std::string> tags;
    std::map<std::string, std::string> build_args;
    std::optional<std::string> target;
    bool no_cache = false;
    // --squash: the final stage's own layers become one on top of its base image's;
    // --squash-all: the whole image one layer (builder/squash.h).
    bool squash = false, squash_all = false;
    std::optional<std::filesystem::path> iidfile;
    std::string network = "default";              // of RUN steps: default (private), none, host (builder/run_network.h)
    std::vector<std::string> allow;               // entitlements (--allow): network.host
    ProgressMode progress = ProgressMode::auto_;
    std::optional<OutputSpec> output;
    oci::Compression compression = oci::Compression::gzip;
    std::map<std::string, std::string> labels;    // --label, added to the final image
    PullPolicy pull = PullPolicy::missing;
    registry::RegistryOptions registry;           // for FROM pulls
    std::vector<SecretSource> secrets;            // --secret, for RUN --mount=type=secret (values never printed)
    std::vector<SshSource> ssh;                   // --ssh, for RUN --mount=type=ssh
    std::string dockerfile_path;                  // absolute, or "-": names the stages' cache records
    bool explain = false;                         // --explain: say why each miss missed
    std::optional<std::filesystem::path> metadata_file;  // --metadata-file: digests, keys, hits, timings
    std::vector<CacheSpec> cache_from;            // --cache-from, in order of preference
    std::optional<CacheSpec> cache_to;            // --cache-to
    unsigned jobs = 0;                            // --jobs: stages built at once; 0: the number of cores
};

}  // namespace imgbuild::builder
