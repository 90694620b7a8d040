#include "builder/cache_mount_transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include "builder/cache_location.h"
#include "builder/remote_cache.h"
#include "common/error.h"
#include "common/fs.h"
#include "layerstore/layer_import.h"
#include "oci/layer_tar.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, oci::Descriptor>> export_cache_mounts(layerstore::Store& store) {
    std::vector<std::pair<std::string, oci::Descriptor>> out;
    fs::path root = store.root() / "cache-mounts";
    if (!fs::is_directory(root)) return out;
    for (const auto& name : sorted_dir_names(open_or_throw(root, O_PATH | O_DIRECTORY | O_CLOEXEC).get(), root)) {
        fs::path dir = root / name;
        if (name.size() != 64 || !is_lower_hex(name) || !fs::is_directory(dir / "data") || !fs::exists(dir / "meta.json"))
            continue;
        std::string id = oci::parse_json(read_file(dir / "meta.json"), (dir / "meta.json").string()).value("id", "");
        if (id.empty() || Digest::of(id).hex() != name) continue;  // not a mount record we understand
        fs::path tmp = store.tmp_dir() / ("cache-mount-" + random_hex(8));
        oci::LayerDigests d;
        {
            unique_fd fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            oci::TarWriteOptions opts;
            opts.compression = oci::Compression::gzip;
            d = oci::write_layer_tar(dir / "data", fd.get(), opts);
        }
        store.adopt_blob_file(tmp, d.blob_digest);
        out.emplace_back(id, oci::Descriptor{kCacheMountType, d.blob_digest, static_cast<int64_t>(d.blob_size), {}, std::nullopt});
    }
    return out;
}

bool restore_cache_mount(layerstore::Store& store, const std::string& id, const oci::Descriptor& blob,
                         CacheLocation& from) {
    fs::path dir = store.root() / "cache-mounts" / Digest::of(id).hex();
    if (fs::exists(dir)) return false;
    layerstore::BlobImport import(store, blob, "cache mount " + id);
    from.fetch(import);
    TempDir staging = store.make_temp_dir("cache-mount");
    make_dirs(staging.path() / "data");
    {
        unique_fd in = open_or_throw(import.path(), O_RDONLY | O_CLOEXEC);
        oci::ExtractOptions opts;
        opts.whiteouts = false;  // a cache dir, not a layer
        (void)oci::extract_layer_tar(in.get(), staging.path() / "data", opts);
    }
    atomic_write_file(staging.path() / "meta.json", nlohmann::json({{"id", id}}).dump(), staging.path(), Durability::relaxed);
    make_dirs(dir.parent_path());
    if (::rename(staging.path().c_str(), dir.c_str()) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) return false;  // made meanwhile by a build
        throw_errno("rename", dir);
    }
    staging.release();
    return true;
}

}  // namespace imgbuild::builder
