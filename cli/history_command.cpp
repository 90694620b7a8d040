// `imgbuild history IMAGE`: the steps that made an image, newest first.
#include <cstdio>

#include "cli/store_access.h"

namespace imgbuild::cli {
namespace {

VerbRegistration history_verb{"history", "Show the history of an image", [](CLI::App& cmd, const GlobalOptions& g) {
    auto ref = std::make_shared<std::string>();
    auto no_trunc = std::make_shared<bool>(false);
    cmd.add_option("image", *ref, "image")->required();
    cmd.add_flag("--no-trunc", *no_trunc, "do not shorten CREATED BY");
    return [ref, no_trunc, &g] {
        auto store = open_store(g);
        auto img = store->resolve_image(*ref);
        auto history = img.config.value("history", nlohmann::json::array());
        // Entries that made a layer take the layers in order; empty_layer ones take none.
        std::vector<uint64_t> sizes;
        size_t layer = 0;
        for (const auto& h : history) {
            bool empty = h.value("empty_layer", false);
            sizes.push_back(!empty && layer < img.layers.size() ? img.layers[layer++].tar_size : 0);
        }
        std::printf("%-14s %-22s %-50s %-10s %s\n", "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
        for (size_t i = history.size(); i-- > 0;) {
            const auto& h = history[i];
            std::string by = h.value("created_by", "");
            if (!*no_trunc && by.size() > 47) by = by.substr(0, 47) + "...";
            std::string id = i + 1 == history.size() ? img.config_digest.short_id() : "<missing>";
            std::printf("%-14s %-22s %-50s %-10s %s\n", id.c_str(), h.value("created", "").substr(0, 19).c_str(),
                        by.c_str(), human_size(sizes[i]).c_str(), h.value("comment", "").c_str());
        }
        return 0;
    };
}};

}  // namespace
}  // namespace imgbuild::cli
