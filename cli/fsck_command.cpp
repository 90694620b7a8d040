// `imgbuild fsck [--repair] [IMAGE...]`: verifies every blob, layer, image and cache entry
// (or only what the named images use); exit 1 when anything is damaged. --repair removes
// what is damaged or unreachable and says what it removed.
#include <iostream>

#include "cli/store_access.h"
#include "common/error.h"
#include "layerstore/fsck.h"

namespace imgbuild::cli {
namespace {

struct FsckArgs {
    bool repair = false;
    std::vector<std::string> images;
};

int print(const layerstore::FsckReport& r) {
    for (const auto& d : r.damage) std::cerr << "fsck: " << d.text << "\n";
    std::cout << (r.damage.empty() ? "ok" : "damaged") << ": " << r.blobs << " blobs, " << r.layers << " layers, "
              << r.images << " images checked, " << r.damage.size() << " problems\n";
    return r.damage.empty() ? 0 : 1;
}

VerbRegistration fsck_verb{"fsck", "Verify the store (--repair: remove what is damaged or unreachable)",
                           [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<FsckArgs>();
    cmd.add_flag("--repair", a->repair, "remove damaged and unreachable objects, and the names of images using them");
    cmd.add_option("images", a->images, "only check what these images use");
    return [a, &g] {
        auto store = open_store(g);
        if (!a->images.empty()) {
            if (a->repair) throw UsageError("fsck --repair works on the whole store: name no image");
            return print(layerstore::fsck_images(*store, a->images));
        }
        if (!a->repair) return print(layerstore::fsck(*store));
        auto rep = layerstore::repair(*store);
        for (const auto& line : rep.removed) std::cout << line << "\n";
        return print(layerstore::fsck(*store));
    };
}};

}  // namespace
}  // namespace imgbuild::cli
