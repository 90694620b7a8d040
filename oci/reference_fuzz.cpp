// libFuzzer target: the reference parser (oci/reference.h), which reads every name a user,
// an archive or a registry hands us. A UsageError is a fine answer; a crash, a sanitizer
// report or another exception is a bug. What parses must be a fixed point: its full form and
// its local name parse back to the same reference.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "oci/reference.h"

using namespace imgbuild;

namespace {
bool same(const oci::Reference& a, const oci::Reference& b) {
    return a.registry == b.registry && a.repository == b.repository && a.digest == b.digest &&
           (a.tag == b.tag || (a.digest && (a.tag.empty() || b.tag.empty())));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    oci::Reference r;
    try {
        r = oci::parse_reference(text);
    } catch (const UsageError&) {
        return 0;
    }
    if (r.repository.empty() || r.registry.empty() || (r.tag.empty() && !r.digest)) std::abort();
    // The 255-character limit applies to a name as written; the normalized form adds
    // "docker.io/library/", so a name near the limit need not reparse.
    if (r.str().size() > 255) return 0;
    if (!same(r, oci::parse_reference(r.str()))) std::abort();
    if (!same(r, oci::parse_reference(r.local_name()))) std::abort();
    return 0;
}
