// `imgbuild images [-q]`: the images in the store with their names.
#include <cstdio>
#include <iostream>
#include <set>

#include "cli/store_access.h"
#include "common/error.h"

namespace imgbuild::cli {
namespace {

uint64_t image_size(const layerstore::Image& img) {
    uint64_t total = 0;
    for (const auto& l : img.layers) total += l.tar_size;
    return total;
}

VerbRegistration images_verb{"images", "List images", [](CLI::App& cmd, const GlobalOptions& g) {
    auto quiet = std::make_shared<bool>(false);
    cmd.add_flag("-q,--quiet", *quiet, "only image ids");
    return [quiet, &g] {
        auto store = open_store(g);
        if (!*quiet) std::printf("%-40s %-16s %-14s %-22s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
        std::set<std::string> seen;
        int rc = 0;
        for (const auto& t : store->tags()) {
            // One damaged image (fsck names it) must not hide the others: report it, go on.
            std::optional<layerstore::Image> found;
            try {
                found = store->image(t.manifest_digest);
            } catch (const Error& e) {
                std::cerr << "imgbuild: images: " << (t.name.empty() ? t.manifest_digest.str() : t.name) << ": "
                          << e.what() << "\n";
                rc = 1;
                continue;
            }
            const auto& img = *found;
            if (*quiet) {
                if (seen.insert(img.config_digest.hex()).second) std::cout << img.config_digest.short_id() << "\n";
                continue;
            }
            std::string repo = "<none>", tag = "<none>";
            if (auto at = t.name.find('@'); at != std::string::npos) {
                repo = t.name.substr(0, at);  // pulled by digest (name@sha256:...): no tag, as in docker
            } else if (!t.name.empty()) {
                auto colon = t.name.rfind(':');
                repo = t.name.substr(0, colon);
                tag = t.name.substr(colon + 1);
            }
            std::string created = img.config.value("created", "");
            std::printf("%-40s %-16s %-14s %-22s %s\n", repo.c_str(), tag.c_str(), img.config_digest.short_id().c_str(),
                        created.substr(0, 19).c_str(), human_size(image_size(img)).c_str());
        }
        return rc;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
