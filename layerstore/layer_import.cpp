#include "layerstore/layer_import.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "common/strings.h"
#include "oci/layer_tar.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

BlobImport::BlobImport(Store& store, oci::Descriptor expected, std::string what)
    : store_(&store), expected_(std::move(expected)), what_(std::move(what)),
      path_(store.tmp_dir() / ("import-" + random_hex(8))),
      fd_(open_or_throw(path_, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444)), hash_(std::make_unique<Sha256>()) {}

BlobImport::BlobImport(BlobImport&& o) noexcept
    : store_(o.store_), expected_(std::move(o.expected_)), what_(std::move(o.what_)), path_(std::move(o.path_)),
      fd_(std::move(o.fd_)), hash_(std::move(o.hash_)), bytes_(o.bytes_), verified_(o.verified_), committed_(o.committed_) {
    o.committed_ = true;  // the moved-from object owns no file any more
}

BlobImport::~BlobImport() {
    if (!committed_ && !path_.empty()) ::unlink(path_.c_str());
}

void BlobImport::write(const char* data, size_t n) {
    if (bytes_ + n > static_cast<uint64_t>(expected_.size))
        throw Error(what_ + ": the registry sent more than the " + std::to_string(expected_.size) +
                    " bytes the manifest gives for " + expected_.digest.str());
    hash_->update(data, n);
    write_all(fd_.get(), std::string_view(data, n), path_);
    bytes_ += n;
}

void BlobImport::restart() {
    if (::ftruncate(fd_.get(), 0) != 0) throw_errno("truncate", path_.string());
    if (::lseek(fd_.get(), 0, SEEK_SET) != 0) throw_errno("seek", path_.string());
    hash_ = std::make_unique<Sha256>();
    bytes_ = 0;
    verified_ = false;
}

void BlobImport::verify() {
    if (verified_) return;
    if (bytes_ != static_cast<uint64_t>(expected_.size))
        throw Error(what_ + ": size mismatch: the manifest says " + std::to_string(expected_.size) + " bytes, got " +
                    std::to_string(bytes_));
    Digest got = hash_->finish();
    if (got != expected_.digest)
        throw Error(what_ + ": digest mismatch: the manifest says " + expected_.digest.str() + ", the bytes hash to " +
                    got.str());
    if (::fsync(fd_.get()) != 0) throw_errno("fsync", path_.string());
    verified_ = true;
}

void BlobImport::commit() {
    verify();
    if (committed_) return;
    store_->adopt_blob_file(path_, expected_.digest);
    committed_ = true;
}

std::string BlobImport::read() const {
    if (!verified_) throw Error(what_ + ": read before verification");
    return read_file(path_);
}

StagedLayer stage_layer(Store& store, BlobImport blob, const std::optional<std::string>& parent, const Digest& diff_id) {
    blob.verify();
    std::string what = "layer " + blob.expected().digest.str();
    TempDir dir = store.make_temp_dir("layer");
    make_dirs(dir.path() / "diff");
    auto in = open_or_throw(blob.path(), O_RDONLY | O_CLOEXEC);
    auto result = oci::extract_layer_tar(in.get(), dir.path() / "diff", oci::ExtractOptions{});
    if (result.blob_digest != blob.expected().digest) throw Error(what + ": blob changed while it was being unpacked");
    if (result.diff_id != diff_id)
        throw Error(what + ": diff_id mismatch: the config says " + diff_id.str() + ", the layer's tar hashes to " +
                    result.diff_id.str());
    LayerInfo info;
    info.diff_id = result.diff_id;
    info.tar_size = result.tar_size;
    info.parent = parent;
    info.id = Store::chain_id(parent, diff_id);
    info.dir_digest = oci::write_layer_tar(dir.path() / "diff", -1, oci::TarWriteOptions{}).diff_id;
    oci::Descriptor record = blob.expected();
    record.annotations.clear();
    record.platform.reset();
    info.blobs.push_back(record);
    return StagedLayer{std::move(blob), std::move(dir), std::move(info)};
}

LayerInfo install_layer(Store& store, StagedLayer& staged) {
    staged.blob.commit();
    return store.install_staged_layer(staged.dir, staged.info);
}

namespace {
fs::path sources_file(const Store& store, const Digest& d) { return store.root() / "sources" / d.hex(); }
constexpr size_t kMaxSources = 16;
}  // namespace

std::vector<std::string> blob_sources(const Store& store, const Digest& blob) {
    std::string text;
    try {
        text = read_file(sources_file(store, blob));
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT) return {};
        throw;
    }
    std::vector<std::string> out;
    for (std::string_view line : split(text, '\n'))
        if (!line.empty()) out.emplace_back(line);
    return out;
}

void remember_blob_source(const Store& store, const Digest& blob, const std::string& repository) {
    auto list = blob_sources(store, blob);
    list.erase(std::remove(list.begin(), list.end(), repository), list.end());
    list.insert(list.begin(), repository);  // the latest first: the likeliest to still exist
    if (list.size() > kMaxSources) list.resize(kMaxSources);
    std::string text;
    for (const auto& s : list) text += s + "\n";
    make_dirs(store.root() / "sources", 0700);
    atomic_write_file(sources_file(store, blob), text, store.tmp_dir(), Durability::relaxed);
}

}  // namespace imgbuild::layerstore
