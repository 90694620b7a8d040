#pragma once
// The text forms of `run`/`create` flags that describe mounts and ports, parsed into store
// records (pure; unit-tested in run_flags_test.cpp):
//   -v /path                      anonymous volume
//   -v NAME:/path[:ro|rw]         named volume (NAME has no '/')
//   -v /host:/path[:ro|rw]        bind mount
//   --mount type=bind|volume|tmpfs,source=..,target=..[,readonly][,tmpfs-size=..][,tmpfs-mode=..]
//   -p [IP:][HOST:]CTR[/tcp]      publish (HOST empty or missing: a free port)
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layerstore/containers.h"

namespace imgbuild::builder {

// A mount record as written; an anonymous volume has type "volume", an empty source and
// anonymous = true (the caller creates the volume and fills in its name).
[[nodiscard]] layerstore::MountRecord parse_volume_flag(const std::string& text);
[[nodiscard]] layerstore::MountRecord parse_mount_flag(const std::string& text);
[[nodiscard]] layerstore::PortRecord parse_publish_flag(const std::string& text);
// -P: every port of the image's ExposedPorts ({"80/tcp": {}}) to a free host port.
[[nodiscard]] std::vector<layerstore::PortRecord> publish_all(const nlohmann::json& exposed_ports);

}  // namespace imgbuild::builder
