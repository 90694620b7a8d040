#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "common/error.h"
#include "layerstore/layer_blobs.h"
#include "layerstore/layer_import.h"
#include "layerstore/store.h"

using namespace imgbuild;
using namespace imgbuild::layerstore;
namespace fs = std::filesystem;

namespace {

size_t layer_count(const Store& s) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(s.root() / "layers")) n += s.layer(e.path().filename().string()) ? 1 : 0;
    return n;
}

struct Box {
    TempDir dir{fs::temp_directory_path(), "imgbuild-import-test"};
    Store store{dir.path() / "store"};
};

oci::Descriptor descriptor_of(const std::string& bytes, const char* type = oci::media::oci_layer_tar) {
    return {type, Digest::of(bytes), static_cast<int64_t>(bytes.size()), {}, {}};
}

size_t entries(const fs::path& dir) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

// A plain layer tar of one file: made by the store's own writer from a committed dir.
std::string layer_tar(Store& s, const std::string& name, const std::string& content) {
    TempDir t = s.make_temp_dir("src");
    fs::create_directories(t.path() / "diff");
    std::ofstream(t.path() / "diff" / name) << content;
    LayerInfo l = s.commit_layer_dir(t.path() / "diff", std::nullopt);
    fs::path f = s.tmp_dir() / "plain.tar";
    write_plain_layer_tar(s, l, f);
    std::string bytes = read_file(f);
    fs::remove(f);
    return bytes;
}

}  // namespace

TEST_CASE("a blob arriving in pieces is verified and committed") {
    Box b;
    std::string data = "hello, registry";
    BlobImport imp(b.store, descriptor_of(data), "blob x");
    imp.write(data.data(), 5);
    imp.write(data.data() + 5, data.size() - 5);
    CHECK_FALSE(b.store.has_blob(Digest::of(data)));  // nothing before commit
    imp.commit();
    CHECK(b.store.has_blob(Digest::of(data)));
    CHECK(b.store.read_blob(Digest::of(data)) == data);
    CHECK(entries(b.store.tmp_dir()) == 0);
}

TEST_CASE("more bytes than the descriptor says stop the transfer at once") {
    Box b;
    BlobImport imp(b.store, descriptor_of("abc"), "blob y");
    imp.write("ab", 2);
    CHECK_THROWS_WITH_AS(imp.write("cd", 2), doctest::Contains("sent more than the 3 bytes"), Error);
}

TEST_CASE("a digest or size mismatch leaves nothing, not even a temp file") {
    Box b;
    {
        BlobImport imp(b.store, descriptor_of("expected"), "blob z");
        imp.write("EXPECTED", 8);
        CHECK_THROWS_WITH_AS(imp.verify(), doctest::Contains("digest mismatch"), Error);
        CHECK_THROWS_AS(imp.commit(), Error);
    }
    {
        BlobImport imp(b.store, descriptor_of("expected"), "blob z");
        imp.write("exp", 3);
        CHECK_THROWS_WITH_AS(imp.verify(), doctest::Contains("size mismatch"), Error);
    }
    CHECK(b.store.list_blobs().empty());
    CHECK(entries(b.store.tmp_dir()) == 0);
}

TEST_CASE("a retried download starts over") {
    Box b;
    std::string data = "0123456789";
    BlobImport imp(b.store, descriptor_of(data), "blob r");
    imp.write("01234", 5);
    imp.restart();
    imp.write(data.data(), data.size());
    imp.commit();
    CHECK(b.store.read_blob(Digest::of(data)) == data);
}

TEST_CASE("a staged layer reaches the store only when installed; a wrong diff_id stages nothing") {
    Box b;
    std::string tar = layer_tar(b.store, "f", "content");
    Digest diff_id = Digest::of(tar);
    size_t layers_before = layer_count(b.store);
    {
        BlobImport imp(b.store, descriptor_of(tar), "layer a");
        imp.write(tar.data(), tar.size());
        CHECK_THROWS_WITH_AS((void)stage_layer(b.store, std::move(imp), std::nullopt, Digest::of("other")),
                             doctest::Contains("diff_id mismatch"), Error);
    }
    CHECK_FALSE(b.store.has_blob(Digest::of(tar)));
    BlobImport imp(b.store, descriptor_of(tar), "layer a");
    imp.write(tar.data(), tar.size());
    StagedLayer staged = stage_layer(b.store, std::move(imp), std::string(64, 'a'), diff_id);
    CHECK_FALSE(b.store.has_blob(Digest::of(tar)));
    LayerInfo l = install_layer(b.store, staged);
    CHECK(l.id == Store::chain_id(std::string(64, 'a'), diff_id));
    CHECK(b.store.has_blob(Digest::of(tar)));
    CHECK(layer_count(b.store) == layers_before + 1);
    REQUIRE(l.blobs.size() == 1);
    CHECK(l.blobs[0].digest == Digest::of(tar));
    CHECK(read_file(l.diff_dir / "f") == "content");
}

TEST_CASE("blob sources: the latest first, no duplicates") {
    Box b;
    Digest d = Digest::of("x");
    CHECK(blob_sources(b.store, d).empty());
    remember_blob_source(b.store, d, "r:1/a");
    remember_blob_source(b.store, d, "r:1/b");
    remember_blob_source(b.store, d, "r:1/a");
    CHECK(blob_sources(b.store, d) == std::vector<std::string>{"r:1/a", "r:1/b"});
}
