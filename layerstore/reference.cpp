// Local image names go through the one reference parser (oci/reference.h, docker/distribution's
// grammar): what `-t` or `tag` accepts is exactly what pull and push accept.
#include <string>

#include "common/error.h"
#include "layerstore/store.h"
#include "oci/reference.h"

namespace imgbuild::layerstore {

std::string normalize_tag(std::string_view name) { return oci::parse_reference(name).local_name(); }

std::string normalize_new_tag(std::string_view name) {
    oci::Reference r = oci::parse_reference(name);
    if (r.digest)
        throw UsageError("invalid tag \"" + std::string(name) +
                         "\": a tag cannot carry a digest (@sha256:...); use NAME[:TAG]");
    return r.local_name();
}

}  // namespace imgbuild::layerstore
