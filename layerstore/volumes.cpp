#include "layerstore/volumes.h"

#include <algorithm>

#include "common/error.h"
#include "common/fs.h"
#include "common/time.h"
#include "layerstore/containers.h"
#include "layerstore/file_lock.h"
#include "layerstore/store.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

Volumes::Volumes(const Store& store) : root_(store.volumes_dir()) {}

VolumeInfo Volumes::create(const std::string& name, bool anonymous, const json& labels, bool* was_created) {
    std::string n = name.empty() ? random_hex(32) : name;
    if (!valid_container_name(n))
        throw UsageError("invalid volume name \"" + n + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    FileLock lock(root_ / ".lock", LOCK_EX);
    if (auto existing = find(n)) {
        if (was_created) *was_created = false;
        return *existing;
    }
    fs::path d = root_ / n;
    make_dirs(d / "_data");
    VolumeInfo v{n, created_timestamp(), anonymous, labels, d / "_data"};
    json meta = {{"name", n}, {"created", v.created}, {"anonymous", anonymous}, {"labels", labels}};
    atomic_write_file(d / "meta.json", meta.dump(2), d, Durability::relaxed);
    if (was_created) *was_created = true;
    return v;
}

std::optional<VolumeInfo> Volumes::find(const std::string& name) const {
    if (!valid_container_name(name)) return std::nullopt;
    fs::path d = root_ / name;
    std::error_code ec;
    if (!fs::is_directory(d / "_data", ec)) return std::nullopt;
    VolumeInfo v;
    v.name = name;
    v.mountpoint = d / "_data";
    try {
        json meta = json::parse(read_file(d / "meta.json"));
        v.created = meta.value("created", "");
        v.anonymous = meta.value("anonymous", false);
        v.labels = meta.value("labels", json::object());
    } catch (const std::exception&) {
        // meta.json not written yet (creation in progress) or unreadable: a plain volume
    }
    return v;
}

std::vector<VolumeInfo> Volumes::list() const {
    std::vector<VolumeInfo> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_, ec))
        if (auto v = find(e.path().filename().string())) out.push_back(*v);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

void Volumes::remove(const std::string& name) {
    if (!find(name)) throw Error("no such volume: " + name);
    remove_tree(root_ / name);
}

}  // namespace imgbuild::layerstore
