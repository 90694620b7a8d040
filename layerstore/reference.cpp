// Local image names: "name[:tag]" with Docker's character rules, "latest" by default.
#include <string>

#include "common/error.h"
#include "layerstore/store.h"

namespace imgbuild::layerstore {

namespace {

bool valid_repository(std::string_view repo) {
    if (repo.empty() || repo.size() > 255) return false;
    char prev = '/';
    for (char c : repo) {
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool sep = c == '.' || c == '_' || c == '-' || c == '/' || c == ':';
        if (!alnum && !sep) return false;
        if (sep && c != ':' && (prev == '/' || prev == '.' || prev == '-') && c == '/') return false;
        prev = c;
    }
    return repo.back() != '/';
}

bool valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > 128) return false;
    if (tag[0] == '.' || tag[0] == '-') return false;
    for (char c : tag)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    return true;
}

// Docker Hub names are kept in their short form, as docker does: skopeo and podman write
// "docker.io/library/busybox:1" into archives, and a user who loads one asks for "busybox:1".
std::string familiar(std::string n) {
    for (std::string_view hub : {"docker.io/", "index.docker.io/", "registry-1.docker.io/"}) {
        if (n.rfind(hub, 0) != 0) continue;
        n = n.substr(hub.size());
        if (n.rfind("library/", 0) == 0 && n.find('/', 8) == std::string::npos) n = n.substr(8);
        break;
    }
    return n;
}

}  // namespace

std::string normalize_tag(std::string_view name) {
    std::string n = familiar(std::string(name));
    if (n.find('@') != std::string::npos) return n;
    auto slash = n.rfind('/');
    auto colon = n.rfind(':');
    std::string repo = n, tag = "latest";
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        repo = n.substr(0, colon);
        tag = n.substr(colon + 1);
    }
    if (!valid_repository(repo))
        throw UsageError("invalid image name \"" + n + "\": use lowercase letters, digits and . _ - /");
    if (!valid_tag(tag)) throw UsageError("invalid tag \"" + tag + "\" in \"" + n + "\"");
    return repo + ":" + tag;
}

}  // namespace imgbuild::layerstore
