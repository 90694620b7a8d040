#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/error.h"
#include "layerstore/archives.h"
#include "layerstore/fsck.h"
#include "layerstore/store.h"

using namespace imgbuild;
using namespace imgbuild::layerstore;
namespace fs = std::filesystem;

namespace {

struct Sandbox {
    TempDir dir{fs::temp_directory_path(), "imgbuild-store-test"};
    fs::path root() const { return dir.path() / "store"; }
};

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

LayerInfo make_layer(Store& s, const std::string& file, const std::string& content,
                     const std::optional<std::string>& parent = std::nullopt) {
    TempDir t = s.make_temp_dir("test");
    write(t.path() / "diff" / file, content);
    return s.commit_layer_dir(t.path() / "diff", parent);
}

nlohmann::json base_config() {
    return {{"architecture", "amd64"}, {"os", "linux"}, {"config", {{"Cmd", {"sh"}}}}};
}

}  // namespace

TEST_CASE("blobs: put is idempotent, reads verify, malformed digests never become paths") {
    Sandbox sb;
    Store s(sb.root());
    Digest d = s.put_blob("hello");
    CHECK(d == Digest::of("hello"));
    CHECK(s.put_blob("hello") == d);
    CHECK(s.read_blob(d) == "hello");
    CHECK(s.verify_blob(d));
    // Damage the blob behind the store's back: reading refuses it, verify reports it.
    ::chmod(s.blob_path(d).c_str(), 0644);
    write(s.blob_path(d), "HELLO");
    CHECK_THROWS_WITH_AS(s.read_blob(d), doctest::Contains("damaged"), Error);
    std::string problem;
    CHECK_FALSE(s.verify_blob(d, &problem));
    CHECK(problem.find(d.str()) != std::string::npos);
    CHECK_THROWS_AS(Digest::parse("sha256:../../etc/passwd"), UsageError);
    CHECK_THROWS_WITH(s.read_blob(Digest::of("absent")), doctest::Contains("not in the store"));
}

TEST_CASE("blobs: a streamed blob with the wrong digest is refused and leaves nothing") {
    Sandbox sb;
    Store s(sb.root());
    int p[2];
    REQUIRE(::pipe(p) == 0);
    REQUIRE(::write(p[1], "data", 4) == 4);
    ::close(p[1]);
    CHECK_THROWS_WITH(s.put_blob_from_fd(p[0], Digest::of("other"), "test blob"), doctest::Contains("digest mismatch"));
    ::close(p[0]);
    CHECK(s.list_blobs().empty());
    CHECK(fs::is_empty(s.tmp_dir()));
}

TEST_CASE("store open removes stale staging entries left by a crash") {
    Sandbox sb;
    { Store s(sb.root()); }
    write(sb.root() / "tmp/blob-leftover", "x");
    fs::create_directories(sb.root() / "tmp/layer-abc/diff");
    Store s(sb.root());
    CHECK(fs::is_empty(s.tmp_dir()));
}

TEST_CASE("layers: chain ids, the same diff on the same parent is one layer, the dir is moved") {
    Sandbox sb;
    Store s(sb.root());
    LayerInfo a = make_layer(s, "a.txt", "A");
    CHECK(a.id == a.diff_id.hex());
    CHECK(fs::exists(a.diff_dir / "a.txt"));
    CHECK(fs::is_symlink(s.short_links_dir() / a.id.substr(0, 20)));
    LayerInfo b = make_layer(s, "b.txt", "B", a.id);
    CHECK(b.id == Store::chain_id(a.id, b.diff_id));
    CHECK(b.parent == a.id);
    LayerInfo again = make_layer(s, "a.txt", "A");
    CHECK(again.id == a.id);
    CHECK(s.list_layers().size() == 2);
    CHECK(fs::is_empty(s.tmp_dir()));
}

TEST_CASE("images: put, tag, find by name, id prefix and digest; untag") {
    Sandbox sb;
    Store s(sb.root());
    LayerInfo l = make_layer(s, "f", "1");
    Image img = s.put_image(base_config(), {l});
    CHECK(img.layers.size() == 1);
    CHECK(img.config["rootfs"]["diff_ids"][0] == l.diff_id.str());
    s.tag("demo", img.manifest_digest);
    CHECK(s.resolve_image("demo:latest").config_digest == img.config_digest);
    CHECK(s.resolve_image(img.config_digest.hex().substr(0, 12)).manifest_digest == img.manifest_digest);
    CHECK(s.resolve_image(img.manifest_digest.str()).config_digest == img.config_digest);
    CHECK(s.resolve_image(img.config_digest.str()).manifest_digest == img.manifest_digest);
    CHECK_FALSE(s.find_image("other").has_value());
    CHECK_THROWS_WITH(s.resolve_image("other"), "image not found: other");
    CHECK_THROWS_AS(s.tag("Bad Name", img.manifest_digest), UsageError);
    // Moving a tag to another image replaces it.
    Image img2 = s.put_image(base_config(), {l, make_layer(s, "g", "2", l.id)});
    s.tag("demo", img2.manifest_digest);
    CHECK(s.resolve_image("demo").manifest_digest == img2.manifest_digest);
    CHECK(s.untag("demo"));
    CHECK_FALSE(s.untag("demo"));
    CHECK(s.tags().empty());
}

TEST_CASE("normalize_tag") {
    CHECK(normalize_tag("busybox") == "busybox:latest");
    CHECK(normalize_tag("a/b:1.0") == "a/b:1.0");
    CHECK(normalize_tag("localhost:5000/a/b") == "localhost:5000/a/b:latest");
    CHECK(normalize_tag("localhost:5000/a/b:v2") == "localhost:5000/a/b:v2");
    CHECK_THROWS_AS(normalize_tag("UPPER"), UsageError);
    CHECK_THROWS_AS(normalize_tag("a:b:"), UsageError);
    CHECK_THROWS_AS(normalize_tag(""), UsageError);
}

TEST_CASE("save and load round trip, both formats; a tampered archive is refused") {
    for (auto format : {ArchiveFormat::oci, ArchiveFormat::docker}) {
        CAPTURE(static_cast<int>(format));
        Sandbox sb;
        Store src(sb.root());
        LayerInfo l1 = make_layer(src, "etc/one", "1");
        LayerInfo l2 = make_layer(src, "etc/two", "22", l1.id);
        Image img = src.put_image(base_config(), {l1, l2});
        src.tag("demo:v1", img.manifest_digest);
        fs::path archive = sb.dir.path() / "out.tar";
        {
            unique_fd out(::open(archive.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
            save_images(src, {"demo:v1"}, out.get(), SaveOptions{format, oci::Compression::gzip});
        }
        Store dst(sb.dir.path() / "store2");
        {
            unique_fd in(::open(archive.c_str(), O_RDONLY | O_CLOEXEC));
            auto loaded = load_images(dst, in.get(), archive.string());
            REQUIRE(loaded.size() == 1);
            CHECK(loaded[0].names == std::vector<std::string>{"demo:v1"});
            CHECK(loaded[0].config_digest == img.config_digest);  // the image id survives
        }
        Image back = dst.resolve_image("demo:v1");
        REQUIRE(back.layers.size() == 2);
        CHECK(back.layers[1].diff_id == l2.diff_id);
        CHECK(read_file(back.layers[1].diff_dir / "etc/two") == "22");
        CHECK(fsck(dst).problems.empty());
        CHECK(fsck(src).problems.empty());
    }
}
