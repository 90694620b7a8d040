#pragma once
// How containers are shown: docker's `ps` columns and `inspect` JSON (pure functions over
// the store's records; unit-tested in container_format_test.cpp).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerstore/containers.h"

namespace imgbuild::cli {

// docker's units.HumanDuration: "Less than a second", "5 seconds", "About a minute", ...
[[nodiscard]] std::string human_duration(int64_t seconds);
// "Up 5 seconds", "Up 2 minutes (Paused)", "Exited (137) 3 seconds ago", "Created".
[[nodiscard]] std::string status_text(const layerstore::ContainerState& s, int64_t now);
// "\"sh -c 'echo hi'\"" shortened to 20 characters with "…", as docker ps does.
[[nodiscard]] std::string command_text(const std::vector<std::string>& argv, bool truncate = true);
// "0.0.0.0:8080->80/tcp, 0.0.0.0:8443->443/tcp"
[[nodiscard]] std::string ports_text(const std::vector<layerstore::PortRecord>& ports);
// Seconds since the epoch of an RFC 3339 UTC time; 0 when unparsable.
[[nodiscard]] int64_t parse_rfc3339(const std::string& t);

struct PsRow {
    std::string id, image, command, created, status, ports, names;
};
[[nodiscard]] PsRow ps_row(const layerstore::ContainerConfig& c, const layerstore::ContainerState& s, int64_t now);
// The table with docker's header and column widths (each column as wide as its widest cell + 3).
[[nodiscard]] std::string ps_table(const std::vector<PsRow>& rows);

struct ContainerPaths {
    std::string lower_dirs;  // "a:b" top first
    std::string upper_dir, work_dir, merged_dir, log_path;
    std::vector<std::string> volume_dirs;  // per mount: the host path ("" for tmpfs)
};
// docker's inspect shape (Id, Name, State{...}, Config{...}, HostConfig{...}, Mounts,
// NetworkSettings{Ports}, GraphDriver{Data{...}}).
[[nodiscard]] nlohmann::json inspect_json(const layerstore::ContainerConfig& c, const layerstore::ContainerState& s,
                                          const ContainerPaths& paths);

}  // namespace imgbuild::cli
