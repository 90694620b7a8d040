#include "layerstore/fsck.h"

#include "common/error.h"
#include "oci/layer_tar.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

FsckReport fsck(const Store& store) {
    FsckReport r;
    for (const auto& d : store.list_blobs()) {
        ++r.blobs;
        std::string problem;
        if (!store.verify_blob(d, &problem)) r.problems.push_back(problem);
    }
    for (const auto& e : fs::directory_iterator(store.root() / "layers")) {
        ++r.layers;
        std::string id = e.path().filename().string();
        try {
            auto l = store.layer(id);
            if (!l) {
                r.problems.push_back("layer " + id + ": no meta.json");
                continue;
            }
            if (!fs::is_directory(l->diff_dir)) {
                r.problems.push_back("layer " + id + ": diff/ is missing");
                continue;
            }
            if (l->dir_digest) {
                auto now = oci::write_layer_tar(l->diff_dir, -1,
                                                 oci::TarWriteOptions{oci::Compression::none, l->source_date_epoch, false})
                               .diff_id;
                if (now != *l->dir_digest)
                    r.problems.push_back("layer " + id + ": diff/ has changed since it was made (" + now.str() +
                                         " != " + l->dir_digest->str() + ")");
            }
            for (const auto& b : l->blobs)
                if (!store.has_blob(b.digest)) r.problems.push_back("layer " + id + ": blob " + b.digest.str() + " is missing");
        } catch (const std::exception& ex) {
            r.problems.push_back("layer " + id + ": " + ex.what());
        }
    }
    for (const auto& t : store.tags()) {
        ++r.images;
        try {
            Image img = store.image(t.manifest_digest);
            for (const auto& d : img.manifest.layers)
                if (d.media_type != oci::media::oci_layer_tar && !store.has_blob(d.digest))
                    r.problems.push_back("image " + (t.name.empty() ? img.config_digest.short_id() : t.name) +
                                         ": layer blob " + d.digest.str() + " is missing");
        } catch (const std::exception& ex) {
            r.problems.push_back("image " + (t.name.empty() ? t.manifest_digest.str() : t.name) + ": " + ex.what());
        }
    }
    return r;
}

}  // namespace imgbuild::layerstore
