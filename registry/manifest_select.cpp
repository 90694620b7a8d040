#include "registry/manifest_select.h"

#include <sys/utsname.h>

#include "common/error.h"

namespace imgbuild::registry {

using nlohmann::json;

namespace {
constexpr const char* kSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr const char* kSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

// uname machine -> GOARCH (the names images use).
std::string host_architecture() {
    static const std::pair<const char*, const char*> names[] = {
        {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"armv7l", "arm"}, {"i686", "386"}, {"ppc64le", "ppc64le"},
        {"s390x", "s390x"}, {"riscv64", "riscv64"}};
    utsname u{};
    ::uname(&u);
    for (auto [m, a] : names)
        if (std::string(u.machine) == m) return a;
    return u.machine;
}
}  // namespace

ManifestKind classify_manifest(const std::string& content_type_in, const std::string& body) {
    std::string ct = content_type_in.substr(0, content_type_in.find(';'));
    while (!ct.empty() && ct.back() == ' ') ct.pop_back();
    if (ct == kSchema1 || ct == kSchema1Signed) return ManifestKind::schema1;
    if (oci::is_manifest_type(ct)) return ManifestKind::image;
    if (oci::is_index_type(ct)) return ManifestKind::index;
    json j = json::parse(body, nullptr, false);
    if (!j.is_object()) return ManifestKind::unknown;
    if (j.value("schemaVersion", 0) == 1) return ManifestKind::schema1;
    std::string mt = j.contains("mediaType") && j["mediaType"].is_string() ? j["mediaType"].get<std::string>() : "";
    if (oci::is_manifest_type(mt)) return ManifestKind::image;
    if (oci::is_index_type(mt)) return ManifestKind::index;
    if (mt.empty() && j.contains("manifests")) return ManifestKind::index;
    if (mt.empty() && j.contains("config") && j.contains("layers")) return ManifestKind::image;
    return ManifestKind::unknown;
}

std::string manifest_accept_header() {
    return std::string("Accept: ") + oci::media::oci_manifest + ", " + oci::media::oci_index + ", " +
           oci::media::docker_manifest + ", " + oci::media::docker_manifest_list + ", " + kSchema1Signed + ", " + kSchema1;
}

Platform parse_platform(const std::string& text) {
    Platform p;
    if (text.empty()) {
        p.architecture = host_architecture();
        if (p.architecture == "arm64") p.variant = "v8";
        return p;
    }
    auto a = text.find('/');
    if (a == std::string::npos || a == 0 || a + 1 == text.size())
        throw UsageError("--platform " + text + ": want os/arch[/variant] (linux/amd64)");
    p.os = text.substr(0, a);
    std::string rest = text.substr(a + 1);
    auto b = rest.find('/');
    p.architecture = rest.substr(0, b);
    if (b != std::string::npos) p.variant = rest.substr(b + 1);
    if (p.architecture.empty() || (b != std::string::npos && p.variant.empty()))
        throw UsageError("--platform " + text + ": want os/arch[/variant] (linux/amd64)");
    return p;
}

oci::Descriptor select_platform(const oci::Index& index, const Platform& want, const std::string& what) {
    const oci::Descriptor* loose = nullptr;  // same os/arch, no variant given by the index
    std::string have;
    for (const auto& m : index.manifests) {
        if (!m.platform) continue;
        std::string os = m.platform->value("os", ""), arch = m.platform->value("architecture", ""),
                    variant = m.platform->value("variant", "");
        if (os == "unknown" && arch == "unknown") continue;  // attestations (buildx)
        have += (have.empty() ? "" : ", ") + os + "/" + arch + (variant.empty() ? "" : "/" + variant);
        if (os != want.os || arch != want.architecture) continue;
        if (variant == want.variant) return m;
        if (variant.empty() || want.variant.empty() || (want.architecture == "arm64" && variant == "v8")) loose = &m;
    }
    if (loose) return *loose;
    throw Error(what + ": no image for " + want.str() + " in the index (it has " + (have.empty() ? "none" : have) +
                "): choose one with --platform");
}

}  // namespace imgbuild::registry
