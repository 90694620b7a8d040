#include "layerstore/layer_blobs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.h"
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

oci::Descriptor stored_or_compressed_blob(Store& store, const LayerInfo& layer, oci::Compression c) {
    const char* wanted = layer_media_type(c);
    for (const auto& b : layer.blobs)  // prefer a stored blob of the wanted kind, then any stored one
        if (b.media_type == wanted && store.has_blob(b.digest)) return b;
    for (const auto& b : layer.blobs)
        if (store.has_blob(b.digest)) return b;
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
    store.adopt_blob_file(tmp, digests.blob_digest);
    oci::Descriptor d{wanted, digests.blob_digest, static_cast<int64_t>(digests.blob_size), {}, {}};
    store.add_layer_blob_record(layer.id, d);
    return d;
}

namespace {
bool is_plain_tar(const std::string& media_type) {
    return media_type == oci::media::oci_layer_tar || media_type == oci::media::docker_layer_tar;
}
}  // namespace

oci::Descriptor compressed_layer_blob(Store& store, const LayerInfo& layer, oci::Compression c) {
    const char* wanted = layer_media_type(c);
    const oci::Descriptor* plain = nullptr;
    for (const auto& b : layer.blobs)
        if (b.media_type == wanted && store.has_blob(b.digest)) return b;
    for (const auto& b : layer.blobs) {
        if (!store.has_blob(b.digest)) continue;
        if (!is_plain_tar(b.media_type)) return b;
        plain = &b;
    }
    if (!plain) return stored_or_compressed_blob(store, layer, c);
    // Compress the stored tar as it is: re-tarring diff/ would not reproduce its diff_id.
    fs::path tmp = store.tmp_dir() / ("layer-blob-" + random_hex(8));
    oci::LayerDigests digests;
    {
        auto in = store.open_blob(plain->digest);
        auto out = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
        oci::CompressingWriter w(out.get(), c);
        std::vector<char> buf(1 << 20);
        for (;;) {
            ssize_t n = ::read(in.get(), buf.data(), buf.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                ::unlink(tmp.c_str());
                throw_errno("read", store.blob_path(plain->digest).string());
            }
            if (n == 0) break;
            w.write(buf.data(), static_cast<size_t>(n));
        }
        digests = w.finish();
        if (::fsync(out.get()) != 0) throw_errno("fsync", tmp.string());
    }
    if (digests.diff_id != layer.diff_id) {
        ::unlink(tmp.c_str());
        throw Error("layer " + layer.id + ": its stored tar " + plain->digest.str() + " does not hash to diff_id " +
                    layer.diff_id.str() + " (run imgbuild fsck)");
    }
    store.adopt_blob_file(tmp, digests.blob_digest);
    oci::Descriptor d{wanted, digests.blob_digest, static_cast<int64_t>(digests.blob_size), {}, {}};
    store.add_layer_blob_record(layer.id, d);
    return d;
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
