// `imgbuild tag SRC DST`: another name for an image.
#include "cli/store_access.h"

namespace imgbuild::cli {
namespace {

struct TagArgs {
    std::string source, target;
};

VerbRegistration tag_verb{"tag", "Give an image another name", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<TagArgs>();
    cmd.add_option("source", a->source, "image")->required();
    cmd.add_option("target", a->target, "NAME[:TAG]")->required();
    return [a, &g] {
        std::string target = layerstore::normalize_new_tag(a->target);  // refused before the store is touched
        auto store = open_store(g);
        auto img = store->resolve_image(a->source);
        store->tag(target, img.manifest_digest);
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
