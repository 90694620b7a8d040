// `imgbuild rmi [-f] IMAGE...`: removes names; an image whose last name goes is removed.
// Its blobs and layers stay until `prune` (another image or the cache may share them).
#include <iostream>

#include "cli/store_access.h"
#include "common/error.h"

namespace imgbuild::cli {
namespace {

struct RmiArgs {
    std::vector<std::string> images;
    bool force = false;
};

// Removing a name reads no blob, so an image whose manifest or config is damaged can still
// be removed by name (fsck tells the user to); false when `ref` is not a name in the index.
bool untag_unreadable(layerstore::Store& store, const std::string& ref, const std::string& problem) {
    std::string name;
    try {
        name = layerstore::normalize_tag(ref);
    } catch (const UsageError&) {
        return false;
    }
    if (!store.untag(name)) return false;
    std::cerr << "imgbuild: rmi " << ref << ": " << problem << "\n";
    std::cout << "Untagged: " << name << "\n";
    return true;
}

int remove_one(layerstore::Store& store, const std::string& ref, bool force) {
    std::optional<layerstore::Image> found;
    try {
        found = store.resolve_image(ref);
    } catch (const Error& e) {
        if (untag_unreadable(store, ref, e.what())) return 0;
        throw;
    }
    const layerstore::Image& img = *found;
    std::vector<std::string> names;
    for (const auto& t : store.tags())
        if (t.manifest_digest == img.manifest_digest && !t.name.empty()) names.push_back(t.name);
    std::string as_name;
    try {
        as_name = layerstore::normalize_tag(ref);
    } catch (const UsageError&) {
    }
    bool by_name = std::find(names.begin(), names.end(), as_name) != names.end();
    if (by_name && names.size() > 1) {
        store.untag(as_name);
        std::cout << "Untagged: " << as_name << "\n";
        return 0;
    }
    if (!by_name && names.size() > 1 && !force)
        throw Error("image " + img.config_digest.short_id() + " has several names (" + std::to_string(names.size()) +
                    "): remove them by name, or use -f");
    for (const auto& n : names) std::cout << "Untagged: " << n << "\n";
    store.remove_image(img.manifest_digest);
    std::cout << "Deleted: " << img.config_digest.str() << "\n";
    return 0;
}

VerbRegistration rmi_verb{"rmi", "Remove images", [](CLI::App& cmd, const GlobalOptions& g) {
    auto a = std::make_shared<RmiArgs>();
    cmd.add_option("images", a->images, "images")->required();
    cmd.add_flag("-f,--force", a->force, "remove an image with several names by id");
    return [a, &g] {
        auto store = open_store(g);
        int rc = 0;
        for (const auto& ref : a->images) {
            try {
                remove_one(*store, ref, a->force);
            } catch (const Error& e) {
                std::cerr << "imgbuild: rmi " << ref << ": " << e.what() << "\n";
                rc = 1;
            }
        }
        return rc;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
