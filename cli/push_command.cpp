// `imgbuild push [--compression gzip|zstd] [--digestfile F] [--tls-verify=false] IMAGE [DEST]`:
// IMAGE from the store to DEST (default: IMAGE's own name, as `docker push` does).
#include <iostream>

#include "cli/registry_args.h"
#include "cli/store_access.h"
#include "registry/push.h"

namespace imgbuild::cli {
namespace {

struct PushArgs {
    RegistryArgs reg;
    std::string image, dest, compression = "gzip", digestfile;
    bool quiet = false;
};

VerbRegistration push_verb{"push", "Push an image to a registry", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<PushArgs>();
    add_registry_args(cmd, a->reg, kTls | kProgress);
    cmd.add_option("--compression", a->compression, "compression of layers made for this push: gzip (default) or zstd");
    cmd.add_option("--digestfile", a->digestfile, "write the pushed manifest's digest to this file");
    cmd.add_flag("-q,--quiet", a->quiet, "no progress");
    cmd.add_option("image", a->image, "local image, named REGISTRY/NAME[:TAG] unless DEST is given")->required();
    cmd.add_option("destination", a->dest, "REGISTRY/NAME[:TAG] to push to");
    return [a, &g] {
        auto dest = registry::parse_reference(a->dest.empty() ? a->image : a->dest);
        registry::PushOptions popts;
        popts.compression = oci::parse_compression(a->compression);
        if (popts.compression == oci::Compression::none)
            throw UsageError("push --compression none: registries expect compressed layers (gzip or zstd)");
        if (!a->digestfile.empty()) popts.digestfile = a->digestfile;
        auto opts = to_registry_options(a->reg);
        if (a->quiet) opts.progress = "quiet";
        auto progress = registry::make_transfer_progress(opts.progress);
        auto store = open_store(g);
        auto image = store->find_image(a->image);
        if (!image) throw Error("push " + a->image + ": image not found in the local store");
        (void)registry::push_image(*store, *image, dest, opts, popts, *progress);
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
