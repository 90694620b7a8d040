// Unpacked layers: layers/<chain id>/{diff/,meta.json}. (The short links in l/ that keep
// overlay lowerdir= options under a page are runtime/overlay.cpp's, made on first mount.)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "common/log.h"
#include "layerstore/store.h"
#include "oci/layer_tar.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json meta_to_json(const LayerInfo& l) {
    json blobs = json::array();
    for (const auto& b : l.blobs) blobs.push_back(oci::to_json(b));
    json j = {{"id", l.id}, {"diff_id", l.diff_id.str()}, {"tar_size", l.tar_size}, {"blobs", blobs}};
    if (l.parent) j["parent"] = *l.parent;
    if (l.dir_digest) j["dir_digest"] = l.dir_digest->str();
    if (l.source_date_epoch) j["source_date_epoch"] = *l.source_date_epoch;
    if (l.stamp) j["stamp"] = stamp_to_json(*l.stamp);
    return j;
}

LayerInfo meta_from_json(const json& j, const fs::path& dir, const std::string& what) {
    LayerInfo l;
    try {
        l.id = j.at("id").get<std::string>();
        l.diff_id = Digest::parse(j.at("diff_id").get<std::string>());
        l.tar_size = j.at("tar_size").get<uint64_t>();
        if (j.contains("parent")) l.parent = j["parent"].get<std::string>();
        if (j.contains("dir_digest")) l.dir_digest = Digest::parse(j["dir_digest"].get<std::string>());
        if (j.contains("source_date_epoch")) l.source_date_epoch = j["source_date_epoch"].get<int64_t>();
        for (const auto& b : j.at("blobs")) l.blobs.push_back(oci::descriptor_from_json(b, what));
        if (j.contains("stamp")) l.stamp = stamp_from_json(j["stamp"]);
    } catch (const json::exception& e) {
        throw CorruptError(what + ": malformed layer metadata: " + e.what());
    } catch (const UsageError& e) {  // a bad digest in it: damage, not the user's input
        throw CorruptError(what + ": malformed layer metadata: " + e.what());
    }
    l.diff_dir = dir / "diff";
    return l;
}

bool valid_layer_id(const std::string& id) { return id.size() == 64 && is_lower_hex(id); }

}  // namespace

std::string Store::chain_id(const std::optional<std::string>& parent, const Digest& diff_id) {
    if (!parent) return diff_id.hex();
    return Digest::of("sha256:" + *parent + " " + diff_id.str()).hex();
}

std::optional<LayerInfo> Store::layer(const std::string& id) const {
    if (!valid_layer_id(id)) return std::nullopt;
    hold(ObjectKind::layer, id);
    fs::path dir = root_ / "layers" / id;
    std::string text;
    try {
        text = read_file(dir / "meta.json");
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT) return std::nullopt;
        throw;
    }
    json j;
    try {
        j = oci::parse_json(text, (dir / "meta.json").string());
    } catch (const Error& e) {
        throw CorruptError(e.what());
    }
    return meta_from_json(j, dir, (dir / "meta.json").string());
}

namespace {

bool layer_dir_complete(const LayerInfo& l) {
    struct stat st {};
    return ::lstat(l.diff_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// An existing layer that may be reused as is: readable meta.json, diff/ present, and diff/
// still hashing to the digest taken when it was made. Damage is never reused: the caller
// replaces it with the copy it has. Costs a re-tar of the existing layer, only when the
// layer already exists (a load or pull of a layer the store has, a rebuild giving the same
// layer), which is the cost of the extraction or commit it saves in the first place.
std::optional<LayerInfo> reusable_layer(const Store& store, const std::string& id) {
    std::optional<LayerInfo> l;
    try {
        l = store.layer(id);
    } catch (const Error&) {
        return std::nullopt;  // unreadable meta.json: damage
    }
    if (!l || !layer_dir_complete(*l)) return std::nullopt;
    if (l->dir_digest) {
        auto now = oci::write_layer_tar(l->diff_dir, -1, oci::TarWriteOptions{oci::Compression::none, l->source_date_epoch});
        if (now.diff_id != *l->dir_digest) return std::nullopt;
    }
    return l;
}

// Moves a damaged layer dir out of layers/ (into tmp/, which is cleaned at store open) so
// that a good copy can take its place.
void set_aside_damaged(const Store& store, const fs::path& dir) {
    fs::path aside = store.tmp_dir() / ("damaged-" + dir.filename().string() + "-" + random_hex(4));
    rename_or_throw(dir, aside);
    remove_tree(aside);
}

// Moves a staged layer dir (diff/ + meta.json) into layers/<id>. Losing a race against a
// concurrent commit of the same layer is fine: the winner's content is identical. `stamp`:
// diff/'s stamp when the caller took it on its own walk (else it is taken here).
LayerInfo install_layer(const Store& store, TempDir& staged, LayerInfo info, std::optional<DirStamp> stamp = std::nullopt) {
    fs::path final_dir = store.root() / "layers" / info.id;
    // diff/ is in its final form now: renaming its parent below touches no ctime inside it.
    info.stamp = stamp ? *stamp : stamp_dir(staged.path() / "diff");
    atomic_write_file(staged.path() / "meta.json", oci::canonical(meta_to_json(info)), store.tmp_dir());
    if (::rename(staged.path().c_str(), final_dir.c_str()) != 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) throw_errno("rename " + staged.path().string() + " to", final_dir.string());
        if (auto existing = reusable_layer(store, info.id)) return *existing;
        // What is there lacks meta.json or diff/, or diff/ changed (damage, not a concurrent
        // commit: a commit renames a complete dir into place): the staged copy replaces it.
        set_aside_damaged(store, final_dir);
        rename_or_throw(staged.path(), final_dir);
    }
    staged.release();
    fsync_dir(final_dir.parent_path());
    // Short links for overlay options are made when a layer is first mounted
    // (runtime::ensure_short_links): one naming scheme for builds and containers.
    info.diff_dir = final_dir / "diff";
    return info;
}

}  // namespace

LayerInfo Store::commit_layer_dir(const fs::path& dir, const std::optional<std::string>& parent,
                                  std::optional<int64_t> source_date_epoch) {
    // The stamp of the entries below dir is taken on the tar's walk (no second walk of 10k
    // files); dir itself after its rename below, which changes its ctime.
    DirStamp stamp;
    oci::TarWriteOptions opts{oci::Compression::none, source_date_epoch};
    opts.on_entry = [&stamp](const struct stat& st) { add_to_stamp(stamp, st); };
    auto digests = oci::write_layer_tar(dir, -1, opts);
    LayerInfo info;
    info.diff_id = digests.diff_id;
    info.tar_size = digests.tar_size;
    info.dir_digest = digests.diff_id;
    info.parent = parent;
    info.source_date_epoch = source_date_epoch;
    info.id = chain_id(parent, info.diff_id);
    if (auto existing = reusable_layer(*this, info.id)) {
        remove_tree(dir);
        return *existing;
    }
    TempDir staged = make_temp_dir("layer");
    rename_or_throw(dir, staged.path() / "diff");
    struct stat root;
    if (::lstat((staged.path() / "diff").c_str(), &root) != 0) throw_errno("stat", (staged.path() / "diff").string());
    add_to_stamp(stamp, root);
    return install_layer(*this, staged, info, stamp);
}

LayerInfo Store::install_staged_layer(TempDir& staged, const LayerInfo& info) {
    if (auto existing = layer(info.id)) return *existing;
    return install_layer(*this, staged, info);
}

LayerInfo Store::add_layer_blob(int fd, const std::optional<std::string>& parent, const oci::Descriptor& expected,
                                const std::optional<Digest>& diff_id) {
    std::string what = "layer " + expected.digest.str();
    auto [blob_digest, blob_size] = put_blob_from_fd(fd, expected.digest, what);
    if (static_cast<int64_t>(blob_size) != expected.size)
        throw Error(what + ": size mismatch: manifest says " + std::to_string(expected.size) + ", blob has " +
                    std::to_string(blob_size));
    if (diff_id) {
        if (auto existing = reusable_layer(*this, chain_id(parent, *diff_id))) return *existing;
    }
    TempDir staged = make_temp_dir("layer");
    make_dirs(staged.path() / "diff");
    auto blob = open_blob(blob_digest);
    auto result = oci::extract_layer_tar(blob.get(), staged.path() / "diff", oci::ExtractOptions{});
    if (result.blob_digest != blob_digest) throw Error(what + ": blob changed while it was being unpacked");
    if (diff_id && result.diff_id != *diff_id)
        throw Error(what + ": diff_id mismatch: config says " + diff_id->str() + ", the layer's tar hashes to " +
                    result.diff_id.str());
    LayerInfo info;
    info.diff_id = result.diff_id;
    info.tar_size = result.tar_size;
    info.parent = parent;
    info.id = chain_id(parent, info.diff_id);
    info.dir_digest = oci::write_layer_tar(staged.path() / "diff", -1, oci::TarWriteOptions{}).diff_id;
    oci::Descriptor stored = expected;
    stored.annotations.clear();
    info.blobs.push_back(stored);
    if (auto existing = reusable_layer(*this, info.id)) return *existing;
    return install_layer(*this, staged, info);
}

}  // namespace imgbuild::layerstore

namespace imgbuild::layerstore {

void Store::add_layer_blob_record(const std::string& layer_id, const oci::Descriptor& blob) {
    auto info = layer(layer_id);
    if (!info) throw Error("layer " + layer_id + " is not in the store");
    for (const auto& b : info->blobs)
        if (b.digest == blob.digest) return;
    info->blobs.push_back(blob);
    fs::path meta = root_ / "layers" / layer_id / "meta.json";
    atomic_write_file(meta, oci::canonical(meta_to_json(*info)), tmp_dir());
}

void Store::remove_layer_blob_record(const std::string& layer_id, const Digest& blob) {
    auto info = layer(layer_id);
    if (!info) return;
    auto kept = std::remove_if(info->blobs.begin(), info->blobs.end(), [&](const oci::Descriptor& b) { return b.digest == blob; });
    if (kept == info->blobs.end()) return;
    info->blobs.erase(kept, info->blobs.end());
    fs::path meta = root_ / "layers" / layer_id / "meta.json";
    atomic_write_file(meta, oci::canonical(meta_to_json(*info)), tmp_dir());
}

}  // namespace imgbuild::layerstore

namespace imgbuild::layerstore {

namespace {

void record_meta(const Store& store, const LayerInfo& l) {
    atomic_write_file(store.root() / "layers" / l.id / "meta.json", oci::canonical(meta_to_json(l)), store.tmp_dir());
}

// Unpacks the layer's stored blob again and puts it in place of the damaged dir.
LayerInfo reinstall_from_blob(const Store& store, const LayerInfo& l, const oci::Descriptor& blob) {
    std::string what = "layer " + l.id + ": blob " + blob.digest.str();
    TempDir staged = store.make_temp_dir("layer");
    make_dirs(staged.path() / "diff");
    auto in = store.open_blob(blob.digest);
    auto result = oci::extract_layer_tar(in.get(), staged.path() / "diff", oci::ExtractOptions{});
    if (result.blob_digest != blob.digest) throw CorruptError(what + ": does not hash to its digest");
    if (result.diff_id != l.diff_id) throw CorruptError(what + ": unpacks to " + result.diff_id.str() + ", not the layer's " + l.diff_id.str());
    LayerInfo info = l;
    info.dir_digest = oci::write_layer_tar(staged.path() / "diff", -1, oci::TarWriteOptions{}).diff_id;
    info.source_date_epoch.reset();
    set_aside_damaged(store, store.root() / "layers" / l.id);
    return install_layer(store, staged, info);
}

}  // namespace

LayerInfo verify_layer_for_use(const Store& store, const LayerInfo& layer) {
    std::optional<DirStamp> now;
    if (layer_dir_complete(layer)) now = stamp_dir(layer.diff_dir, stamp_threads_for(layer.stamp ? layer.stamp->entries : 0));
    if (now && layer.stamp && *now == *layer.stamp) return layer;
    // The stamps disagree (or none was recorded): the full check against the recorded digest
    // decides, so a touched but unchanged tree is not damage.
    if (now) {
        bool same = true;
        if (layer.dir_digest) {
            auto digest = oci::write_layer_tar(layer.diff_dir, -1,
                                               oci::TarWriteOptions{oci::Compression::none, layer.source_date_epoch})
                              .diff_id;
            same = digest == *layer.dir_digest;
        }
        if (same) {
            LayerInfo l = layer;
            l.stamp = now;
            record_meta(store, l);
            return l;
        }
    }
    std::string problem = now ? "diff/ has changed since the layer was made" : "diff/ is missing";
    for (const auto& b : layer.blobs) {
        if (!store.has_blob(b.digest)) continue;
        try {
            LayerInfo repaired = reinstall_from_blob(store, layer, b);
            log::warn("layer " + layer.id + ": " + problem + "; unpacked it again from blob " + b.digest.str());
            return repaired;
        } catch (const Error& e) {
            log::warn(e.what());
        }
    }
    throw CorruptError("layer " + layer.id + ": " + problem + " (" + layer.diff_dir.string() +
                       "); run `imgbuild fsck --repair`, then build or load the image again");
}

}  // namespace imgbuild::layerstore
