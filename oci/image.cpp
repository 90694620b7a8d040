#include "oci/image.h"

#include "common/error.h"

namespace imgbuild::oci {

using nlohmann::json;

bool is_manifest_type(const std::string& t) { return t == media::oci_manifest || t == media::docker_manifest; }
bool is_index_type(const std::string& t) { return t == media::oci_index || t == media::docker_manifest_list; }
bool is_layer_type(const std::string& t) {
    static const char* types[] = {media::oci_layer_tar,   media::oci_layer_gzip,   media::oci_layer_zstd,
                                  media::docker_layer_tar, media::docker_layer_gzip, media::docker_layer_zstd,
                                  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                                  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"};
    for (const char* l : types)
        if (t == l) return true;
    return false;
}

Descriptor oci_layer_type(Descriptor d) {
    static const std::pair<const char*, const char*> docker_to_oci[] = {
        {media::docker_layer_gzip, media::oci_layer_gzip},
        {media::docker_layer_tar, media::oci_layer_tar},
        {media::docker_layer_zstd, media::oci_layer_zstd}};
    for (auto [from, to] : docker_to_oci)
        if (d.media_type == from) d.media_type = to;
    return d;
}

json to_json(const Descriptor& d) {
    json j = {{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}};
    if (!d.annotations.empty()) j["annotations"] = d.annotations;
    if (d.platform) j["platform"] = *d.platform;
    return j;
}

json to_json(const Manifest& m) {
    json layers = json::array();
    for (const auto& l : m.layers) layers.push_back(to_json(l));
    json j = {{"schemaVersion", 2}, {"mediaType", m.media_type}, {"config", to_json(m.config)}, {"layers", layers}};
    if (!m.annotations.empty()) j["annotations"] = m.annotations;
    return j;
}

json to_json(const Index& i) {
    json manifests = json::array();
    for (const auto& m : i.manifests) manifests.push_back(to_json(m));
    json j = {{"schemaVersion", 2}, {"mediaType", media::oci_index}, {"manifests", manifests}};
    if (!i.annotations.empty()) j["annotations"] = i.annotations;
    return j;
}

namespace {

[[noreturn]] void bad(const std::string& what, const std::string& problem) { throw Error(what + ": " + problem); }

const json& field(const json& j, const char* name, const std::string& what) {
    if (!j.is_object()) bad(what, "expected a JSON object");
    auto it = j.find(name);
    if (it == j.end()) bad(what, std::string("missing field \"") + name + "\"");
    return *it;
}

std::map<std::string, std::string> annotations_of(const json& j, const std::string& what) {
    std::map<std::string, std::string> out;
    auto it = j.find("annotations");
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_object()) bad(what, "\"annotations\" is not an object");
    for (auto& [k, v] : it->items()) {
        if (!v.is_string()) bad(what, "annotation \"" + k + "\" is not a string");
        out[k] = v.get<std::string>();
    }
    return out;
}

}  // namespace

Descriptor descriptor_from_json(const json& j, const std::string& what) {
    Descriptor d;
    const json& mt = field(j, "mediaType", what);
    const json& dg = field(j, "digest", what);
    const json& sz = field(j, "size", what);
    if (!mt.is_string() || !dg.is_string() || !sz.is_number_integer()) bad(what, "descriptor has fields of the wrong type");
    d.media_type = mt.get<std::string>();
    auto digest = Digest::try_parse(dg.get<std::string>());
    if (!digest) bad(what, "invalid digest \"" + dg.get<std::string>() + "\"");
    d.digest = *digest;
    d.size = sz.get<int64_t>();
    if (d.size < 0) bad(what, "negative size in descriptor");
    d.annotations = annotations_of(j, what);
    if (auto p = j.find("platform"); p != j.end() && p->is_object()) d.platform = *p;
    return d;
}

Manifest manifest_from_json(const json& j, const std::string& what) {
    Manifest m;
    if (auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) m.media_type = mt->get<std::string>();
    else if (j.contains("config")) m.media_type = media::oci_manifest;  // mediaType is optional in OCI
    if (!is_manifest_type(m.media_type)) bad(what, "not an image manifest (mediaType " + m.media_type + ")");
    m.config = descriptor_from_json(field(j, "config", what), what + " config");
    const json& layers = field(j, "layers", what);
    if (!layers.is_array()) bad(what, "\"layers\" is not an array");
    for (size_t i = 0; i < layers.size(); ++i)
        m.layers.push_back(descriptor_from_json(layers[i], what + " layer " + std::to_string(i)));
    m.annotations = annotations_of(j, what);
    return m;
}

Index index_from_json(const json& j, const std::string& what) {
    Index idx;
    const json& manifests = field(j, "manifests", what);
    if (!manifests.is_array()) bad(what, "\"manifests\" is not an array");
    for (size_t i = 0; i < manifests.size(); ++i)
        idx.manifests.push_back(descriptor_from_json(manifests[i], what + " manifest " + std::to_string(i)));
    idx.annotations = annotations_of(j, what);
    return idx;
}

json parse_json(const std::string& text, const std::string& what) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number that overflows
        throw Error(what + ": invalid JSON: " + e.what());
    }
}

std::string canonical(const json& j) { return j.dump(); }  // nlohmann orders object keys

std::vector<Digest> config_diff_ids(const json& config, const std::string& what) {
    std::vector<Digest> out;
    const json& rootfs = field(config, "rootfs", what);
    const json& ids = field(rootfs, "diff_ids", what);
    if (!ids.is_array()) bad(what, "rootfs.diff_ids is not an array");
    for (const auto& id : ids) {
        if (!id.is_string()) bad(what, "rootfs.diff_ids holds a non-string");
        auto d = Digest::try_parse(id.get<std::string>());
        if (!d) bad(what, "invalid diff_id \"" + id.get<std::string>() + "\"");
        out.push_back(*d);
    }
    return out;
}

}  // namespace imgbuild::oci
