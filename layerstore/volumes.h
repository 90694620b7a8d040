#pragma once
// Volumes in the store (DESIGN.md §3): volumes/<name>/_data holds the files, volumes/<name>/
// meta.json the record. Anonymous volumes are named by a random 64-hex id. A volume outlives
// its containers until it is removed; it is never part of a commit.
//
// Contracts: create is idempotent for a named volume (docker's `volume create x` twice is
// fine); names follow the container name rule; meta.json is written atomically.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imgbuild::layerstore {

class Store;

struct VolumeInfo {
    std::string name;
    std::string created;      // RFC 3339
    bool anonymous = false;
    nlohmann::json labels = nlohmann::json::object();
    std::filesystem::path mountpoint;  // volumes/<name>/_data
};

class Volumes {
public:
    explicit Volumes(const Store& store);
    // Creates the volume (a random name when `name` is empty); returns it, with `created`
    // true in *was_created when it did not exist before.
    VolumeInfo create(const std::string& name, bool anonymous, const nlohmann::json& labels = nlohmann::json::object(),
                      bool* was_created = nullptr);
    [[nodiscard]] std::optional<VolumeInfo> find(const std::string& name) const;
    [[nodiscard]] std::vector<VolumeInfo> list() const;  // by name
    void remove(const std::string& name);
    [[nodiscard]] std::filesystem::path data_dir(const std::string& name) const { return root_ / name / "_data"; }

private:
    std::filesystem::path root_;
};

}  // namespace imgbuild::layerstore
