#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/error.h"
#include "common/process.h"
#include "common/time.h"
#include "layerstore/fsck.h"
#include "layerstore/gc.h"
#include "layerstore/store.h"

using namespace imgbuild;
using namespace imgbuild::layerstore;
namespace fs = std::filesystem;

namespace {

struct GcSandbox {
    TempDir dir{fs::temp_directory_path(), "imgbuild-gc-test"};
    fs::path root() const { return dir.path() / "store"; }
};

LayerInfo layer_with(Store& s, const std::string& content, const std::optional<std::string>& parent = std::nullopt) {
    TempDir t = s.make_temp_dir("test");
    fs::create_directories(t.path() / "diff");
    std::ofstream(t.path() / "diff/file") << content;
    return s.commit_layer_dir(t.path() / "diff", parent);
}

nlohmann::json config() { return {{"architecture", "amd64"}, {"os", "linux"}, {"config", nlohmann::json::object()}}; }

}  // namespace

TEST_CASE("gc: prune keeps what a tag reaches and removes what nothing reaches") {
    GcSandbox sb;
    Digest kept_manifest, gone_config;
    std::string kept_layer, gone_layer;
    {
        Store s(sb.root());
        auto base = layer_with(s, "base");
        auto top = layer_with(s, "top", base.id);
        Image img = s.put_image(config(), {base, top});
        s.tag("app", img.manifest_digest);
        kept_manifest = img.manifest_digest;
        kept_layer = top.id;
        auto other = layer_with(s, "other");
        Image untagged = s.put_image(config(), {other});
        gone_config = untagged.config_digest;
        gone_layer = other.id;
    }
    Store s(sb.root());
    auto r = prune(s, PruneOptions{});
    CHECK(r.layers == 1);
    CHECK(r.blobs == 2);  // the untagged image's config and manifest
    CHECK(fs::exists(sb.root() / "layers" / kept_layer));
    CHECK_FALSE(fs::exists(sb.root() / "layers" / gone_layer));
    CHECK_FALSE(s.has_blob(gone_config));
    CHECK(s.resolve_image("app").manifest_digest == kept_manifest);
    CHECK(fsck(s).damage.empty());
}

TEST_CASE("gc: a live Store's lease keeps what it looked at; a dead process's lease does not") {
    GcSandbox sb;
    std::string layer_id;
    {
        Store s(sb.root());
        layer_id = layer_with(s, "held").id;
    }
    Store holder(sb.root());
    REQUIRE(holder.layer(layer_id));  // the lookup takes the lease
    Store gc_store(sb.root());
    CHECK(prune(gc_store, PruneOptions{}).layers == 0);
    CHECK(fs::exists(sb.root() / "layers" / layer_id));

    // A lease file whose process is gone (a forked child that exited) holds nothing.
    pid_t child = ::fork();
    if (child == 0) _exit(0);
    (void)wait_for_child(child, "lease holder child");
    std::ofstream(sb.root() / "leases" / (std::to_string(child) + "-1-dead")) << "layer " << layer_id << "\n";
    auto r = prune(gc_store, PruneOptions{});
    CHECK(r.stale_leases == 1);
    CHECK(fs::exists(sb.root() / "layers" / layer_id));  // still held by `holder`
}

TEST_CASE("gc: a prune in the middle of a build-like sequence never removes what the other Store holds") {
    GcSandbox sb;
    Store builder(sb.root());
    Store gc_store(sb.root());
    auto base = layer_with(builder, "base");
    CHECK(prune(gc_store, PruneOptions{}).layers == 0);
    auto top = layer_with(builder, "top", base.id);
    Digest cfg = builder.put_blob(oci::canonical(config()), Durability::relaxed);
    CHECK(prune(gc_store, PruneOptions{}).blobs == 0);
    CHECK(builder.has_blob(cfg));
    Image img = builder.put_image(config(), {base, top});
    CHECK(prune(gc_store, PruneOptions{}).layers == 0);
    builder.tag("done", img.manifest_digest);
    CHECK(gc_store.resolve_image("done").layers.size() == 2);
}

TEST_CASE("gc: image prune -a; until") {
    GcSandbox sb;
    {
        Store maker(sb.root());
        Image img = maker.put_image(config(), {layer_with(maker, "x")});
        maker.tag("x", img.manifest_digest);
    }  // its lease ends with it
    Store s(sb.root());
    auto kept = prune(s, PruneOptions{ImagePrune::unused, false, int64_t{0}});  // nothing created before 1970
    CHECK(kept.untagged.empty());
    auto r = prune(s, PruneOptions{ImagePrune::unused, false, std::nullopt});
    CHECK(r.untagged == std::vector<std::string>{"x:latest"});
    CHECK(r.layers == 1);
    CHECK(s.tags().empty());
}

TEST_CASE("index: a damaged index.json falls back to its backup; repair restores it") {
    GcSandbox sb;
    Store s(sb.root());
    Image img = s.put_image(config(), {layer_with(s, "i")});
    s.tag("named", img.manifest_digest);
    std::ofstream(sb.root() / "images/index.json") << "{broken";
    CHECK(s.resolve_image("named").manifest_digest == img.manifest_digest);
    auto before = fsck(s);
    REQUIRE(before.damage.size() == 1);
    CHECK(before.damage[0].kind == DamageKind::index);
    auto rep = repair(s);
    CHECK_FALSE(rep.removed.empty());
    CHECK(fsck(s).damage.empty());
    CHECK(s.resolve_image("named").manifest_digest == img.manifest_digest);
}

TEST_CASE("error kinds: a bad digest in meta.json is CorruptError, a missing image NotFoundError") {
    GcSandbox sb;
    Store s(sb.root());
    auto l = layer_with(s, "k");
    std::ofstream(sb.root() / "layers" / l.id / "meta.json")
        << R"({"id":")" << l.id << R"(","diff_id":"sha256:zz","tar_size":1,"blobs":[]})";
    CHECK_THROWS_AS((void)s.layer(l.id), CorruptError);
    CHECK_THROWS_AS((void)s.resolve_image("nope"), NotFoundError);
}

TEST_CASE("parse_rfc3339 and process_is") {
    CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339("2023-11-14T22:13:20Z") == 1700000000);
    CHECK(parse_rfc3339("2023-11-14T23:13:20.5+01:00") == 1700000000);
    CHECK_FALSE(parse_rfc3339("yesterday"));
    CHECK(process_is(::getpid(), process_start_time(::getpid())));
    CHECK_FALSE(process_is(::getpid(), process_start_time(::getpid()) + 1));
}
