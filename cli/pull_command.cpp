// `imgbuild pull [--platform os/arch] [--tls-verify=false] [--registry-mirror URL] REF`.
#include <iostream>

#include "cli/registry_args.h"
#include "cli/store_access.h"
#include "registry/pull.h"

namespace imgbuild::cli {
namespace {

struct PullArgs {
    RegistryArgs reg;
    std::string ref;
    bool quiet = false;
};

VerbRegistration pull_verb{"pull", "Pull an image from a registry", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<PullArgs>();
    add_registry_args(cmd, a->reg, kTls | kMirror | kPlatform | kProgress);
    cmd.add_flag("-q,--quiet", a->quiet, "print only the image name");
    cmd.add_option("reference", a->ref, "[REGISTRY/]NAME[:TAG|@DIGEST]")->required();
    return [a, &g] {
        auto ref = registry::parse_reference(a->ref);
        auto opts = to_registry_options(a->reg);
        if (a->quiet) opts.progress = "quiet";
        auto progress = registry::make_transfer_progress(opts.progress);
        auto store = open_store(g);
        auto res = registry::pull_image(*store, ref, opts, *progress);
        if (a->quiet) {
            std::cout << res.name << "\n";
            return 0;
        }
        progress->summary("Digest: " + res.digest.str() + "\nStatus: " +
                              (res.blobs_transferred ? "Downloaded newer image for " : "Image is up to date for ") +
                              res.name + "\n" + ref.str(),
                          res.digest.str());
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
