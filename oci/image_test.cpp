#include <doctest/doctest.h>

#include "common/error.h"
#include "oci/image.h"

using namespace imgbuild;
using namespace imgbuild::oci;
using nlohmann::json;

TEST_CASE("manifest JSON round trip keeps every field") {
    Manifest m;
    m.config = {media::oci_config, Digest::of("config"), 6, {}, {}};
    m.layers.push_back({media::oci_layer_gzip, Digest::of("l1"), 100, {{"k", "v"}}, {}});
    m.layers.push_back({media::oci_layer_tar, Digest::of("l2"), 200, {}, {}});
    m.annotations = {{"org.example", "x"}};
    json j = to_json(m);
    CHECK(j["schemaVersion"] == 2);
    Manifest back = manifest_from_json(j, "test");
    CHECK(canonical(to_json(back)) == canonical(j));
    CHECK(back.layers[0].annotations.at("k") == "v");
}

TEST_CASE("docker v2s2 manifests and layer types are read") {
    json j = json::parse(R"({"schemaVersion":2,
        "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
        "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,
                  "digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,
                   "digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]})");
    Manifest m = manifest_from_json(j, "docker manifest");
    CHECK(m.media_type == media::docker_manifest);
    CHECK(is_layer_type(m.layers[0].media_type));
    CHECK(is_manifest_type(media::docker_manifest));
    CHECK(is_index_type(media::docker_manifest_list));
}

TEST_CASE("index JSON round trip, names in annotations") {
    Index idx;
    idx.manifests.push_back({media::oci_manifest, Digest::of("m"), 5, {{"org.opencontainers.image.ref.name", "latest"}}, {}});
    idx.manifests.back().platform = json{{"architecture", "amd64"}, {"os", "linux"}};
    Index back = index_from_json(to_json(idx), "index");
    REQUIRE(back.manifests.size() == 1);
    CHECK(back.manifests[0].annotations.at("org.opencontainers.image.ref.name") == "latest");
    CHECK(back.manifests[0].platform->at("os") == "linux");
}

TEST_CASE("bad documents are refused with the document named") {
    CHECK_THROWS_WITH_AS(parse_json("{", "blob X"), doctest::Contains("blob X: invalid JSON"), Error);
    json bad_digest = {{"mediaType", media::oci_layer_tar}, {"digest", "sha256:../../etc/passwd"}, {"size", 1}};
    CHECK_THROWS_WITH_AS(descriptor_from_json(bad_digest, "layer 0"), doctest::Contains("layer 0: invalid digest"), Error);
    json negative = {{"mediaType", media::oci_layer_tar}, {"digest", Digest::of("").str()}, {"size", -1}};
    CHECK_THROWS_WITH_AS(descriptor_from_json(negative, "layer 1"), doctest::Contains("negative size"), Error);
    json missing = {{"mediaType", media::oci_layer_tar}, {"size", 1}};
    CHECK_THROWS_WITH_AS(descriptor_from_json(missing, "layer 2"), doctest::Contains("missing field \"digest\""), Error);
    json not_manifest = {{"mediaType", media::oci_index}, {"manifests", json::array()}};
    CHECK_THROWS_WITH_AS(manifest_from_json(not_manifest, "m"), doctest::Contains("not an image manifest"), Error);
}

TEST_CASE("config diff_ids") {
    json config = {{"rootfs", {{"type", "layers"}, {"diff_ids", {Digest::of("a").str(), Digest::of("b").str()}}}}};
    auto ids = config_diff_ids(config, "config");
    REQUIRE(ids.size() == 2);
    CHECK(ids[1] == Digest::of("b"));
    config["rootfs"]["diff_ids"].push_back("sha256:XYZ");
    CHECK_THROWS_WITH_AS(config_diff_ids(config, "config"), doctest::Contains("invalid diff_id"), Error);
}

TEST_CASE("canonical JSON is stable: the same document gives the same digest") {
    json a = json::parse(R"({"b":1,"a":{"y":2,"x":1}})");
    json b = json::parse(R"({"a":{"x":1,"y":2},"b":1})");
    CHECK(canonical(a) == canonical(b));
    CHECK(Digest::of(canonical(a)) == Digest::of(canonical(b)));
}

TEST_CASE("a number too large for a double is bad JSON, not a crash (found by image_fuzz)") {
    CHECK_THROWS_AS((void)oci::parse_json(R"({"size": 4444444e444444444444444})", "m"), Error);
}
