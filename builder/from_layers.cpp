#include "builder/from_layers.h"

#include "common/error.h"

namespace imgbuild::builder {

FromLayers from_layers(StepEnv& env, const std::string& from, const std::string& what) {
    const std::string prefix = what + "=" + from + ": ";
    if (auto idx = env.parsed.find_stage(from)) {
        auto it = env.finished_stages.find(*idx);
        if (it == env.finished_stages.end()) throw Error(prefix + "stage " + from + " has not been built");
        return {it->second.layers, "stage:" + it->second.state.str()};
    }
    std::optional<layerstore::Image> img;
    try {
        img = env.image ? env.image(from) : env.store.find_image(from);
    } catch (const Error& e) {
        throw Error(prefix + e.what());
    }
    if (!img) throw Error(prefix + "no stage or image of that name in the local store");
    return {img->layers, "image:" + img->manifest_digest.str()};
}

}  // namespace imgbuild::builder
