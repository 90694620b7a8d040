#pragma once
// Image references as Docker reads them: `name`, `name:tag`, `name@sha256:...`,
// `host[:port]/path/name:tag`. Normalisation as in Docker: a first component without a dot,
// a colon or "localhost" is a Docker Hub path (docker.io), a single Hub component gets
// library/, and a reference with neither tag nor digest means :latest.
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"

namespace imgbuild::registry {

inline constexpr const char* kDockerHub = "docker.io";

struct Reference {
    std::string registry;      // "docker.io", "127.0.0.1:5000", "[::1]:5000"
    std::string repository;    // "library/busybox", "app"
    std::string tag;           // "latest"; empty when only a digest was given
    std::optional<Digest> digest;

    // registry/repository[:tag][@digest], fully qualified.
    [[nodiscard]] std::string str() const;
    // The name the local store uses: Docker Hub names in their short form ("busybox:latest",
    // "me/app:v1"), others in full; a digest reference keeps its digest ("busybox@sha256:...").
    [[nodiscard]] std::string local_name() const;
    // What goes after /manifests/: the digest when pinned, else the tag.
    [[nodiscard]] std::string manifest_ref() const { return digest ? digest->str() : tag; }
};

// Parses `text`; throws UsageError `invalid reference "TEXT": WHY` (uppercase repository,
// bad tag, bad digest, empty component, too long, ...).
[[nodiscard]] Reference parse_reference(std::string_view text);

// The API host for a registry name: docker.io's is registry-1.docker.io.
[[nodiscard]] std::string api_host(const std::string& registry);

// True for 127.0.0.0/8, ::1 and localhost (with or without a port): registries Docker treats
// as insecure by default, so plain http is allowed for them.
[[nodiscard]] bool is_loopback_registry(const std::string& registry);

}  // namespace imgbuild::registry
