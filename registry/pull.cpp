#include "registry/pull.h"

#include <memory>

#include "common/error.h"
#include "layerstore/layer_import.h"
#include "registry/distribution.h"
#include "registry/manifest_select.h"
#include "registry/parallel.h"

namespace imgbuild::registry {

using nlohmann::json;
using layerstore::BlobImport;

FetchedManifest get_manifest(Client& c, const std::string& repo, const std::string& ref) {
    Request req;
    req.url = "/v2/" + repo + "/manifests/" + ref;
    req.headers.push_back(manifest_accept_header());
    req.max_buffered = kMaxManifestSize + 1;
    Response r = c.send(req, {pull_scope(repo)});
    if (!r.ok()) c.fail(r, "manifest " + ref);
    if (r.body.size() > kMaxManifestSize) throw Error("manifest " + ref + ": larger than 4 MiB");
    return {r.body, r.header("content-type"), Digest::of(r.body)};
}

void download_blob(Client& c, const std::string& repo, BlobImport& into, TransferProgress& progress) {
    const Digest& d = into.expected().digest;
    Request req;
    req.url = "/v2/" + repo + "/blobs/" + d.str();
    req.sink = [&](const char* data, size_t n) {
        into.write(data, n);
        progress.update(d, into.bytes());
    };
    // An interrupted transfer resumes where it stopped (Range), unless the server answers the
    // retry with the whole blob again; the digest is checked over all bytes at the end.
    req.attempt_headers = [&]() -> std::vector<std::string> {
        if (into.bytes() == 0) return {};
        return {"Range: bytes=" + std::to_string(into.bytes()) + "-"};
    };
    req.on_success = [&](long status) {
        if (status != 206) into.restart();
    };
    Response r = c.send(req, {pull_scope(repo)});
    if (!r.ok()) c.fail(r, "blob " + d.str());
    into.verify();
}

namespace {

void check_digest(const FetchedManifest& m, const Digest& want, const std::string& what) {
    if (m.digest != want)
        throw Error(what + ": the registry sent a manifest that hashes to " + m.digest.str() + ", not " + want.str());
}

PullResult pull_from(layerstore::Store& store, Client& c, const Reference& ref, const RegistryOptions& opts,
                     TransferProgress& progress) {
    const std::string& repo = ref.repository;
    PullResult result;
    FetchedManifest top = get_manifest(c, repo, ref.manifest_ref());
    if (ref.digest) check_digest(top, *ref.digest, "manifest " + ref.digest->str());
    result.digest = top.digest;
    FetchedManifest m = top;
    ManifestKind kind = classify_manifest(top.content_type, top.bytes);
    if (kind == ManifestKind::index) {
        std::string what = "index " + top.digest.str();
        oci::Index idx = oci::index_from_json(oci::parse_json(top.bytes, what), what);
        oci::Descriptor pick = select_platform(idx, parse_platform(opts.platform), what);
        m = get_manifest(c, repo, pick.digest.str());
        check_digest(m, pick.digest, "manifest " + pick.digest.str());
        kind = classify_manifest(m.content_type, m.bytes);
    }
    if (kind == ManifestKind::schema1)
        throw Error("manifest " + m.digest.str() +
                    " is in Docker's schema 1 format (deprecated since 2017, no longer supported): push the image again "
                    "with a current tool to get a v2 or OCI manifest");
    if (kind != ManifestKind::image)
        throw Error("manifest " + m.digest.str() + ": not an image manifest (Content-Type " + m.content_type + ")");
    std::string what = "manifest " + m.digest.str();
    oci::Manifest manifest = oci::manifest_from_json(oci::parse_json(m.bytes, what), what);

    // Config: small, fetched whole (verified), committed with everything else at the end.
    std::optional<BlobImport> config_import;
    std::string config_bytes;
    if (store.has_blob(manifest.config.digest)) {
        config_bytes = store.read_blob(manifest.config.digest);
    } else {
        if (manifest.config.size > static_cast<int64_t>(kMaxManifestSize))
            throw Error("config " + manifest.config.digest.str() + ": larger than 4 MiB");
        config_import.emplace(store, manifest.config, "config " + manifest.config.digest.str());
        progress.start(manifest.config.digest, "Downloading", static_cast<uint64_t>(manifest.config.size));
        download_blob(c, repo, *config_import, progress);
        progress.finish(manifest.config.digest, "Pull complete");
        config_bytes = config_import->read();
        ++result.blobs_transferred;
    }
    json config = oci::parse_json(config_bytes, "config " + manifest.config.digest.str());
    auto diff_ids = oci::config_diff_ids(config, "config " + manifest.config.digest.str());
    if (diff_ids.size() != manifest.layers.size())
        throw Error(what + ": " + std::to_string(manifest.layers.size()) + " layers, but the config lists " +
                    std::to_string(diff_ids.size()) + " diff_ids");
    for (const auto& l : manifest.layers)
        if (!oci::is_layer_type(l.media_type)) throw Error(what + ": layer " + l.digest.str() + " has media type " + l.media_type);

    // Layers: chain ids are known from the config, so every missing layer is fetched and
    // unpacked on its own, four at a time.
    std::vector<std::optional<std::string>> parents(diff_ids.size());
    std::vector<size_t> missing;
    std::optional<std::string> parent;
    for (size_t i = 0; i < diff_ids.size(); ++i) {
        parents[i] = parent;
        std::string id = layerstore::Store::chain_id(parent, diff_ids[i]);
        if (store.layer(id)) {
            progress.finish(manifest.layers[i].digest, "Already exists");
        } else {
            missing.push_back(i);
        }
        parent = id;
    }
    std::vector<std::unique_ptr<layerstore::StagedLayer>> staged(missing.size());
    parallel_for(missing.size(), kParallelTransfers, [&](size_t k) {
        size_t i = missing[k];
        const oci::Descriptor& desc = manifest.layers[i];
        progress.start(desc.digest, "Downloading", static_cast<uint64_t>(desc.size));
        BlobImport blob(store, desc, "layer " + desc.digest.str());
        download_blob(c, repo, blob, progress);
        staged[k] = std::make_unique<layerstore::StagedLayer>(
            layerstore::stage_layer(store, std::move(blob), parents[i], diff_ids[i]));
        progress.finish(desc.digest, "Pull complete");
    });
    result.blobs_transferred += missing.size();

    // Everything checked out: into the store.
    if (config_import) config_import->commit();
    for (auto& s : staged) (void)layerstore::install_layer(store, *s);
    Digest stored = store.put_blob(m.bytes);  // as sent: the image keeps the registry's manifest digest
    result.image = store.image(stored);
    result.name = ref.local_name();
    store.tag(result.name, stored);
    std::string source = ref.registry + "/" + repo;
    layerstore::remember_blob_source(store, manifest.config.digest, source);
    for (const auto& l : manifest.layers) layerstore::remember_blob_source(store, l.digest, source);
    return result;
}

}  // namespace

PullResult pull_image(layerstore::Store& store, const Reference& ref, const RegistryOptions& opts,
                      TransferProgress& progress) {
    Transport transport(opts.tls_verify);
    std::vector<std::string> bases;
    if (ref.registry == kDockerHub) bases = opts.mirrors;
    bases.push_back("");
    for (size_t i = 0; i < bases.size(); ++i) {
        Client client(transport, ref.registry, opts, bases[i]);
        try {
            return pull_from(store, client, ref, opts, progress);
        } catch (const Error& e) {
            if (i + 1 < bases.size()) {
                progress.message("pull " + ref.str() + ": mirror " + bases[i] + ": " + e.what() + "; trying the next source");
                continue;
            }
            throw Error("pull " + ref.local_name() + ": " + e.what());
        }
    }
    throw Error("pull " + ref.local_name() + ": no source");  // not reached
}

}  // namespace imgbuild::registry
