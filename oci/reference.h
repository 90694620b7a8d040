#pragma once
// Image references, the one parser of docker/distribution's reference grammar that every
// name goes through: `-t`, `tag`, `rmi`, archive names, pull and push. Forms: `name`,
// `name:tag`, `name@sha256:...`, `host[:port]/path/name:tag[@digest]`. Normalisation as in
// Docker: a first component without a dot, a colon or "localhost" is a Docker Hub path
// (docker.io), a single Hub component gets library/, and neither tag nor digest means :latest.
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"

namespace imgbuild::oci {

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

}  // namespace imgbuild::oci
