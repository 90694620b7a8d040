#include <doctest/doctest.h>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "registry/auth_config.h"
#include "registry/manifest_select.h"

using namespace imgbuild;
using namespace imgbuild::registry;
namespace fs = std::filesystem;

namespace {

struct Dir {
    TempDir t{fs::temp_directory_path(), "auth-test"};
    fs::path operator/(const std::string& p) const { return t.path() / p; }
};

void write(const fs::path& p, const std::string& text) {
    make_dirs(p.parent_path());
    atomic_write_file(p, text, p.parent_path(), Durability::relaxed);
}

}  // namespace

TEST_CASE("base64 round trip") {
    CHECK(base64_encode("alice:s3cret") == "YWxpY2U6czNjcmV0");
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("a") == "YQ==");
    CHECK(base64_encode("ab") == "YWI=");
    const std::vector<std::string> samples{"", "a", "ab", "abc", "user:pa:ss", std::string("\0\xff", 2)};
    for (const auto& s : samples) CHECK(base64_decode(base64_encode(s)) == s);
    CHECK_FALSE(base64_decode("not base64!"));
}

TEST_CASE("auths of Docker's config.json, keys in any of their spellings") {
    Dir d;
    AuthLocations w{d / "docker/config.json", {}, std::nullopt};
    write(w.docker_config, R"({"auths": {
        "127.0.0.1:5000": {"auth": "YWxpY2U6czNjcmV0"},
        "https://index.docker.io/v1/": {"auth": ")" + base64_encode("hub:pw") + R"("},
        "https://quay.io": {"auth": ")" + base64_encode("q:pw:with:colons") + R"("},
        "empty.example": {}}})");
    auto local = find_credentials(w, "127.0.0.1:5000");
    REQUIRE(local);
    CHECK(local->username == "alice");
    CHECK(local->password == "s3cret");
    auto hub = find_credentials(w, "docker.io");
    REQUIRE(hub);
    CHECK(hub->username == "hub");
    auto quay = find_credentials(w, "quay.io");
    REQUIRE(quay);
    CHECK(quay->password == "pw:with:colons");
    CHECK_FALSE(find_credentials(w, "empty.example"));
    CHECK_FALSE(find_credentials(w, "other:5000"));
}

TEST_CASE("no config file means no credentials; a malformed one is an error naming it") {
    Dir d;
    AuthLocations w{d / "nowhere/config.json", {}, std::nullopt};
    CHECK_FALSE(find_credentials(w, "docker.io"));
    write(d / "bad/config.json", "{not json");
    AuthLocations bad{d / "bad/config.json", {}, std::nullopt};
    try {
        (void)find_credentials(bad, "docker.io");
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find((d / "bad/config.json").string()) != std::string::npos);
    }
}

TEST_CASE("podman's files: REGISTRY_AUTH_FILE first, the runtime auth.json after Docker's") {
    Dir d;
    write(d / "docker/config.json", R"({"auths": {"r:1": {"auth": ")" + base64_encode("docker:1") + R"("}}})");
    write(d / "xdg/containers/auth.json", R"({"auths": {"r:1": {"auth": ")" + base64_encode("podman:1") + R"("},
                                                        "only-podman:1": {"auth": ")" + base64_encode("p:2") + R"("}}})");
    write(d / "explicit.json", R"({"auths": {"r:1": {"auth": ")" + base64_encode("explicit:1") + R"("}}})");
    AuthLocations w{d / "docker/config.json", {d / "xdg/containers/auth.json"}, std::nullopt};
    CHECK(find_credentials(w, "r:1")->username == "docker");
    CHECK(find_credentials(w, "only-podman:1")->username == "p");
    w.first = d / "explicit.json";
    CHECK(find_credentials(w, "r:1")->username == "explicit");
}

TEST_CASE("login writes auths (0600, other fields kept), logout removes them") {
    Dir d;
    AuthLocations w{d / "docker/config.json", {}, std::nullopt};
    write(w.docker_config, R"({"psFormat": "table {{.ID}}", "auths": {"https://r:1/v1/": {"auth": "b2xkOm9sZA=="}}})");
    CHECK(store_credentials(w, "r:1", {"alice", "s3cret"}) == w.docker_config.string());
    struct stat st{};
    REQUIRE(::stat(w.docker_config.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto j = nlohmann::json::parse(read_file(w.docker_config));
    CHECK(j["psFormat"] == "table {{.ID}}");
    CHECK(j["auths"].size() == 1);  // the old spelling of the key was replaced
    CHECK(j["auths"]["r:1"]["auth"] == "YWxpY2U6czNjcmV0");
    CHECK(find_credentials(w, "r:1")->password == "s3cret");
    CHECK(store_credentials(w, "docker.io", {"hub", "x"}) == w.docker_config.string());
    CHECK(nlohmann::json::parse(read_file(w.docker_config))["auths"].contains("https://index.docker.io/v1/"));
    CHECK(erase_credentials(w, "r:1"));
    CHECK_FALSE(find_credentials(w, "r:1"));
    CHECK_FALSE(erase_credentials(w, "r:1"));
    CHECK(find_credentials(w, "docker.io"));
}

TEST_CASE("a missing credential helper is an error naming the program") {
    Dir d;
    AuthLocations w{d / "docker/config.json", {}, std::nullopt};
    write(w.docker_config, R"({"credHelpers": {"r:1": "imgbuild-no-such-helper"}})");
    try {
        (void)find_credentials(w, "r:1");
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("docker-credential-imgbuild-no-such-helper") != std::string::npos);
    }
}

TEST_CASE("manifest kinds: image, index, schema 1") {
    CHECK(classify_manifest("application/vnd.oci.image.manifest.v1+json", "{}") == ManifestKind::image);
    CHECK(classify_manifest("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", "{}") == ManifestKind::image);
    CHECK(classify_manifest("application/vnd.docker.distribution.manifest.list.v2+json", "{}") == ManifestKind::index);
    CHECK(classify_manifest("application/vnd.docker.distribution.manifest.v1+prettyjws", "{}") == ManifestKind::schema1);
    CHECK(classify_manifest("application/json", R"({"schemaVersion": 1, "fsLayers": []})") == ManifestKind::schema1);
    CHECK(classify_manifest("", R"({"schemaVersion": 2, "manifests": []})") == ManifestKind::index);
    CHECK(classify_manifest("", R"({"schemaVersion": 2, "config": {}, "layers": []})") == ManifestKind::image);
    CHECK(classify_manifest("text/html", "<html>") == ManifestKind::unknown);
}

TEST_CASE("platforms: parsing and choosing from an index") {
    CHECK(parse_platform("linux/arm64/v8").str() == "linux/arm64/v8");
    CHECK_THROWS_AS((void)parse_platform("linux"), UsageError);
    CHECK_THROWS_AS((void)parse_platform("linux/"), UsageError);
    CHECK_FALSE(parse_platform("").architecture.empty());
    oci::Index idx;
    auto entry = [](const char* hex_char, nlohmann::json platform) {
        oci::Descriptor d;
        d.media_type = oci::media::oci_manifest;
        d.digest = Digest::of(hex_char);
        d.platform = platform;
        return d;
    };
    idx.manifests = {entry("a", {{"os", "linux"}, {"architecture", "amd64"}}),
                     entry("b", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}),
                     entry("c", {{"os", "linux"}, {"architecture", "arm"}, {"variant", "v7"}}),
                     entry("d", {{"os", "unknown"}, {"architecture", "unknown"}})};
    CHECK(select_platform(idx, parse_platform("linux/amd64"), "i").digest == Digest::of("a"));
    CHECK(select_platform(idx, parse_platform("linux/arm64"), "i").digest == Digest::of("b"));
    CHECK(select_platform(idx, parse_platform("linux/arm/v7"), "i").digest == Digest::of("c"));
    try {
        (void)select_platform(idx, parse_platform("linux/s390x"), "index x");
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(std::string(e.what()) ==
              "index x: no image for linux/s390x in the index (it has linux/amd64, linux/arm64/v8, linux/arm/v7): "
              "choose one with --platform");
    }
}
