// `imgbuild images [-q]`: the images in the store with their names.
#include <algorithm>
#include <array>
#include <cstdio>
#include <iostream>
#include <set>
#include <vector>

#include "cli/store_access.h"
#include "common/error.h"

namespace imgbuild::cli {
namespace {

uint64_t image_size(const layerstore::Image& img) {
    uint64_t total = 0;
    for (const auto& l : img.layers) total += l.tar_size;
    return total;
}

using Row = std::array<std::string, 5>;

// Columns as wide as their widest cell (a long tag or registry name does not shift the
// columns after it), three spaces apart, as docker's tabwriter.
void print_table(const std::vector<Row>& rows) {
    std::array<size_t, 5> width{};
    for (const auto& r : rows)
        for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
    for (const auto& r : rows) {
        std::string line;
        for (size_t c = 0; c < r.size(); ++c) {
            line += r[c];
            if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 3, ' ');
        }
        std::cout << line << "\n";
    }
}

VerbRegistration images_verb{"images", "List images", [](CLI::App& cmd, const GlobalOptions& g) {
    auto quiet = std::make_shared<bool>(false);
    cmd.add_flag("-q,--quiet", *quiet, "only image ids");
    return [quiet, &g] {
        auto store = open_store(g);
        std::vector<Row> rows{{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
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
            rows.push_back({repo, tag, img.config_digest.short_id(), created.substr(0, 19), human_size(image_size(img))});
        }
        if (!*quiet) print_table(rows);
        return rc;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
