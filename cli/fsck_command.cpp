// `imgbuild fsck`: verifies every blob, layer and image; exit 1 when anything is damaged.
#include <iostream>

#include "cli/store_access.h"
#include "layerstore/fsck.h"

namespace imgbuild::cli {
namespace {

VerbRegistration fsck_verb{"fsck", "Verify the store", [](CLI::App&, const GlobalOptions& g) {
    return [&g] {
        auto store = open_store(g);
        auto r = layerstore::fsck(*store);
        for (const auto& p : r.problems) std::cerr << "fsck: " << p << "\n";
        std::cout << (r.problems.empty() ? "ok" : "damaged") << ": " << r.blobs << " blobs, " << r.layers << " layers, "
                  << r.images << " images checked, " << r.problems.size() << " problems\n";
        return r.problems.empty() ? 0 : 1;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
