#pragma once
// What a manifest GET returned, told apart by media type: an image manifest (OCI or Docker
// v2s2), an index (OCI index or Docker manifest list) to resolve to one platform, or a
// schema 1 manifest (refused).
#include <string>

#include "oci/image.h"

namespace imgbuild::registry {

enum class ManifestKind { image, index, schema1, unknown };

// From the Content-Type, else the document's own mediaType / schemaVersion / fields.
[[nodiscard]] ManifestKind classify_manifest(const std::string& content_type, const std::string& body);

// The Accept header of a manifest request: every kind we read (schema 1 too, to refuse it
// by name rather than get a converted document).
[[nodiscard]] std::string manifest_accept_header();

// "os/arch[/variant]"; empty means the host's (linux/amd64 on x86-64).
struct Platform {
    std::string os = "linux", architecture, variant;
    [[nodiscard]] std::string str() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }
};
[[nodiscard]] Platform parse_platform(const std::string& text);

// The index entry for `want`; throws Error listing the platforms the index has.
[[nodiscard]] oci::Descriptor select_platform(const oci::Index& index, const Platform& want, const std::string& what);

}  // namespace imgbuild::registry
