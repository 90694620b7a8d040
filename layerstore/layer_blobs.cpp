#include "layerstore/layer_blobs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "layerstore/blob_stamps.h"
#include "oci/layer_tar.h"
#include "oci/tar_archive.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

const char* layer_media_type(oci::Compression c) {
    switch (c) {
        case oci::Compression::gzip: return oci::media::oci_layer_gzip;
        case oci::Compression::zstd: return oci::media::oci_layer_zstd;
        case oci::Compression::none: break;
    }
    return oci::media::oci_layer_tar;
}

namespace {

bool is_plain_tar(const std::string& media_type) {
    return media_type == oci::media::oci_layer_tar || media_type == oci::media::docker_layer_tar;
}

// Keeps a blob written to `tmp` in the store and records it on the layer.
oci::Descriptor adopt_layer_blob(Store& store, const LayerInfo& layer, const fs::path& tmp, const oci::LayerDigests& digests,
                                 oci::Compression c) {
    store.adopt_blob_file(tmp, digests.blob_digest);
    oci::Descriptor d{layer_media_type(c), digests.blob_digest, static_cast<int64_t>(digests.blob_size), {}, {}};
    store.add_layer_blob_record(layer.id, d);
    return d;
}

// The layer's blob made from diff/ with `c`.
oci::Descriptor blob_from_diff_dir(Store& store, const LayerInfo& layer, oci::Compression c) {
    fs::path tmp = store.tmp_dir() / ("layer-blob-" + random_hex(8));
    oci::LayerDigests digests;
    {
        auto fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
        digests = oci::write_layer_tar(layer.diff_dir, fd.get(), oci::TarWriteOptions{c, layer.source_date_epoch});
        if (::fsync(fd.get()) != 0) throw_errno("fsync", tmp.string());
    }
    if (digests.diff_id != layer.diff_id) {
        ::unlink(tmp.c_str());
        throw Error("layer " + layer.id + ": " + layer.diff_dir.string() + " no longer matches its diff_id " +
                    layer.diff_id.str() + " (run imgbuild fsck)");
    }
    return adopt_layer_blob(store, layer, tmp, digests, c);
}

// The stored blob `src` (plain or compressed) recompressed with `c`: its tar stream is kept
// byte for byte (re-tarring diff/ would not reproduce the diff_id of a pulled layer), checked
// against the diff_id on the way.
oci::Descriptor transcoded_blob(Store& store, const LayerInfo& layer, const oci::Descriptor& src, oci::Compression c) {
    fs::path tmp = store.tmp_dir() / ("layer-blob-" + random_hex(8));
    const std::string shown = store.blob_path(src.digest).string();
    oci::LayerDigests digests;
    try {
        auto in = store.open_blob(src.digest);
        auto out = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
        oci::CompressingWriter w(out.get(), c);
        oci::decompress_stream(in.get(), [&](const char* p, size_t n) { w.write(p, n); }, shown);
        digests = w.finish();
        if (::fsync(out.get()) != 0) throw_errno("fsync", tmp.string());
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    if (digests.diff_id != layer.diff_id) {
        ::unlink(tmp.c_str());
        throw Error("layer " + layer.id + ": its stored blob " + src.digest.str() + " does not decompress to diff_id " +
                    layer.diff_id.str() + " (run imgbuild fsck)");
    }
    return adopt_layer_blob(store, layer, tmp, digests, c);
}

// A recorded blob is reused only when intact (size and stamp, else its digest: blob_stamps.h);
// a damaged one is passed over, so that the layer's blob is made again from what else the
// store has, or the save or push fails naming the layer, instead of sending wrong bytes.
const oci::Descriptor* stored_blob_of(Store& store, const LayerInfo& layer, const char* media_type) {
    for (const auto& b : layer.blobs)
        if ((!media_type || b.media_type == media_type) && stored_blob_intact(store, layer, b)) return &b;
    return nullptr;
}

}  // namespace

oci::Descriptor stored_or_compressed_blob(Store& store, const LayerInfo& layer, oci::Compression c, bool* made) {
    if (made) *made = false;
    if (const auto* b = stored_blob_of(store, layer, layer_media_type(c))) return *b;
    if (made) *made = true;
    if (const auto* b = stored_blob_of(store, layer, nullptr)) return transcoded_blob(store, layer, *b, c);
    return blob_from_diff_dir(store, layer, c);
}

oci::Descriptor compressed_layer_blob(Store& store, const LayerInfo& layer, oci::Compression c) {
    if (const auto* b = stored_blob_of(store, layer, layer_media_type(c))) return *b;
    const oci::Descriptor* plain = nullptr;
    for (const auto& b : layer.blobs) {
        if (!stored_blob_intact(store, layer, b)) continue;
        if (!is_plain_tar(b.media_type)) return b;
        plain = &b;
    }
    if (plain) return transcoded_blob(store, layer, *plain, c);
    return blob_from_diff_dir(store, layer, c);
}

void write_plain_layer_tar(Store& store, const LayerInfo& layer, const fs::path& file) {
    auto out = open_or_throw(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (!layer.blobs.empty() && store.has_blob(layer.blobs.front().digest)) {
        auto in = store.open_blob(layer.blobs.front().digest);
        oci::decompress_stream(in.get(), out.get(), store.blob_path(layer.blobs.front().digest).string());
        if (::lseek(out.get(), 0, SEEK_SET) != 0) throw_errno("seek", file.string());
        if (hash_to_end(out.get(), file) != layer.diff_id)
            throw Error("layer " + layer.id + ": its blob does not decompress to diff_id " + layer.diff_id.str());
        return;
    }
    auto digests = oci::write_layer_tar(layer.diff_dir, out.get(),
                                        oci::TarWriteOptions{oci::Compression::none, layer.source_date_epoch});
    if (digests.diff_id != layer.diff_id)
        throw Error("layer " + layer.id + ": " + layer.diff_dir.string() + " no longer matches its diff_id " +
                    layer.diff_id.str() + " (run imgbuild fsck)");
}

}  // namespace imgbuild::layerstore
