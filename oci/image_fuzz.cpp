// libFuzzer target: the JSON readers of manifests, indexes, descriptors and image configs,
// which read what registries and archives hand us. Any imgbuild::Error is a fine answer; a
// crash, a sanitizer report or an escaping nlohmann exception is a bug. What parses must
// also survive a round trip through our writer.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "oci/image.h"

using namespace imgbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    nlohmann::json j;
    try {
        j = oci::parse_json(text, "fuzz");
    } catch (const Error&) {
        return 0;
    }
    try {
        oci::Manifest m = oci::manifest_from_json(j, "fuzz manifest");
        oci::Manifest again = oci::manifest_from_json(oci::to_json(m), "fuzz manifest round trip");
        if (again.layers.size() != m.layers.size() || again.config.digest != m.config.digest) std::abort();
    } catch (const Error&) {
    }
    try {
        oci::Index i = oci::index_from_json(j, "fuzz index");
        oci::Index again = oci::index_from_json(oci::to_json(i), "fuzz index round trip");
        if (again.manifests.size() != i.manifests.size()) std::abort();
    } catch (const Error&) {
    }
    try {
        (void)oci::descriptor_from_json(j, "fuzz descriptor");
    } catch (const Error&) {
    }
    try {
        (void)oci::config_diff_ids(j, "fuzz config");
    } catch (const Error&) {
    }
    try {
        (void)oci::canonical(j);
    } catch (const Error&) {
    }
    return 0;
}
