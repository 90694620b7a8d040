#include "builder/build_metadata.h"

#include "common/fs.h"

namespace imgbuild::builder {

using nlohmann::json;

json build_metadata(const layerstore::Image& image, uint64_t manifest_size, const std::vector<std::string>& tags,
                    const std::vector<const StageCacheLog*>& stages, int total_steps, double seconds) {
    json steps = json::array();
    int hits = 0, misses = 0, runs = 0;
    for (const StageCacheLog* log : stages) {
        for (const StepOutcome& o : log->steps()) {
            json s = {{"step", o.step}, {"total", total_steps}, {"stage", log->stage_name()}, {"instruction", o.instruction},
                      {"keyword", o.keyword}, {"key", o.key.str()}, {"cached", o.cached}, {"duration_s", o.seconds}};
            if (o.cached) s["source"] = o.source;
            else s["reason"] = o.reason;
            if (o.config) s["config"] = o.config->str();
            (o.cached ? hits : misses)++;
            if (!o.cached && o.keyword == "RUN") ++runs;
            steps.push_back(std::move(s));
        }
    }
    std::string names;
    for (const auto& t : tags) names += (names.empty() ? "" : ",") + t;
    json m = {{"containerimage.digest", image.manifest_digest.str()},
              {"containerimage.config.digest", image.config_digest.str()},
              {"containerimage.descriptor",
               {{"mediaType", image.manifest.media_type}, {"digest", image.manifest_digest.str()}, {"size", manifest_size}}},
              {"imgbuild.duration_s", seconds},
              {"imgbuild.cache", {{"hits", hits}, {"misses", misses}, {"run_executed", runs}}},
              {"imgbuild.steps", steps}};
    if (!names.empty()) m["image.name"] = names;
    return m;
}

void write_build_metadata(const std::filesystem::path& file, const json& metadata) {
    auto dir = file.parent_path();
    atomic_write_file(file, metadata.dump(2) + "\n", dir.empty() ? "." : dir, Durability::relaxed);
}

}  // namespace imgbuild::builder
