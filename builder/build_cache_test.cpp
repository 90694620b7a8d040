// The cache chain: the state after a step is what the step produced, not how.
#include "builder/build_cache.h"

#include <doctest/doctest.h>

using namespace imgbuild;
using namespace imgbuild::builder;
using nlohmann::json;

namespace {

json config_with(const std::string& diff_id, const std::string& env, const std::string& created_by) {
    return {{"architecture", "amd64"},
            {"os", "linux"},
            {"created", "2024-01-01T00:00:00Z"},
            {"config", {{"Env", {env}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}},
            {"history", {{{"created", "2024-01-01T00:00:00Z"}, {"created_by", created_by}}}}};
}

}  // namespace

TEST_CASE("state_after: the same layers and config give the same state, whatever the history") {
    const std::string l1 = "sha256:" + std::string(64, 'a');
    json a = config_with(l1, "A=1", "RUN echo x > /f # buildkit");
    json b = config_with(l1, "A=1", "RUN echo x >/f # buildkit");  // another instruction, same result
    b["created"] = "2025-05-05T00:00:00Z";
    b["history"][0]["created"] = "2025-05-05T00:00:00Z";
    CHECK(state_after(a) == state_after(b));
}

TEST_CASE("state_after: another layer or another config is another state") {
    const std::string l1 = "sha256:" + std::string(64, 'a'), l2 = "sha256:" + std::string(64, 'b');
    json base = config_with(l1, "A=1", "RUN x");
    CHECK(state_after(base) != state_after(config_with(l2, "A=1", "RUN x")));
    CHECK(state_after(base) != state_after(config_with(l1, "A=2", "RUN x")));
    json more = base;
    more["rootfs"]["diff_ids"].push_back(l2);
    CHECK(state_after(base) != state_after(more));
}

TEST_CASE("CacheKey: fields are length-prefixed") {
    Digest s = Digest::of("");
    CHECK(CacheKey(s).add("ab", "c").finish() != CacheKey(s).add("a", "bc").finish());
    CHECK(CacheKey(s).add("k", "v").finish() == CacheKey(s).add("k", "v").finish());
}
