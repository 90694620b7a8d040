#pragma once
// OCI image-spec and Docker v2s2 JSON documents: descriptors, manifests, indexes, and the
// image config (kept as JSON: the builder edits fields in place and every unknown field
// survives a round trip).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/digest.h"

namespace imgbuild::oci {

namespace media {
inline constexpr const char* oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* oci_layer_tar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* docker_manifest_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* docker_layer_tar = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr const char* docker_layer_zstd = "application/vnd.docker.image.rootfs.diff.tar.zstd";
}  // namespace media

[[nodiscard]] bool is_manifest_type(const std::string& media_type);
[[nodiscard]] bool is_index_type(const std::string& media_type);
[[nodiscard]] bool is_layer_type(const std::string& media_type);

struct Descriptor {
    std::string media_type;
    Digest digest = Digest::of("");
    int64_t size = 0;
    std::map<std::string, std::string> annotations;
    std::optional<nlohmann::json> platform;
};

// A layer descriptor with Docker's media type for the same bytes replaced by the OCI one
// (rootfs.diff.tar.gzip -> layer.v1.tar+gzip, ...); anything else unchanged.
[[nodiscard]] Descriptor oci_layer_type(Descriptor d);

struct Manifest {
    std::string media_type = media::oci_manifest;
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;
};

struct Index {
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;
};

// JSON (de)serialisation. Parsers throw Error naming `what` (a file or blob) on bad input.
[[nodiscard]] nlohmann::json to_json(const Descriptor& d);
[[nodiscard]] nlohmann::json to_json(const Manifest& m);
[[nodiscard]] nlohmann::json to_json(const Index& i);
[[nodiscard]] Descriptor descriptor_from_json(const nlohmann::json& j, const std::string& what);
[[nodiscard]] Manifest manifest_from_json(const nlohmann::json& j, const std::string& what);
[[nodiscard]] Index index_from_json(const nlohmann::json& j, const std::string& what);
[[nodiscard]] nlohmann::json parse_json(const std::string& text, const std::string& what);

// Canonical bytes for a JSON document we write (compact, keys sorted): the same document
// always gives the same digest.
[[nodiscard]] std::string canonical(const nlohmann::json& j);

// The diff_ids of a config ("rootfs": {"type": "layers", "diff_ids": [...]}).
[[nodiscard]] std::vector<Digest> config_diff_ids(const nlohmann::json& config, const std::string& what);

}  // namespace imgbuild::oci
