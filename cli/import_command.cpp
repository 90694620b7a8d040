// `imgbuild import TAR|- NAME[:TAG]`: a rootfs tarball becomes a one-layer image.
#include <iostream>

#include "cli/store_access.h"
#include "layerstore/import_rootfs.h"

namespace imgbuild::cli {
namespace {

struct ImportArgs {
    std::string source, name;
};

VerbRegistration import_verb{"import", "Import a root filesystem tarball as an image", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<ImportArgs>();
    cmd.add_option("source", a->source, "tarball path, or - for stdin")->required();
    cmd.add_option("name", a->name, "NAME[:TAG] for the image");
    return [a, &g] {
        std::string name = a->name.empty() ? "" : layerstore::normalize_new_tag(a->name);  // before any work
        auto store = open_store(g);
        unique_fd holder;
        int fd = open_input(a->source, holder);
        auto img = layerstore::import_rootfs(*store, fd, a->source == "-" ? "stdin" : a->source);
        if (!name.empty()) store->tag(name, img.manifest_digest);
        else store->keep_untagged(img.manifest_digest);
        std::cout << img.config_digest.str() << "\n";
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
