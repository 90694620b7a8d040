#include "registry/push.h"

#include <fcntl.h>

#include <atomic>

#include "common/error.h"
#include "layerstore/layer_blobs.h"
#include "layerstore/layer_import.h"
#include "registry/distribution.h"
#include "registry/parallel.h"

namespace imgbuild::registry {

namespace {

constexpr int kUploadAttempts = 3;

std::string with_query(const std::string& url, const std::string& kv) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

std::string upload_location(const Response& r, const std::string& what) {
    std::string loc = r.header("location");
    if (loc.empty()) throw Error(what + ": the registry gave no upload Location");
    return loc;
}

}  // namespace

PushOutcome BlobPusher::push_blob(const oci::Descriptor& d) {
    std::string what = "blob " + d.digest.str();
    Request head;
    head.method = "HEAD";
    head.url = "/v2/" + dest_.repository + "/blobs/" + d.digest.str();
    Response r = c_.send(head, scopes_);
    if (r.ok()) {
        progress_.finish(d.digest, "Already exists");
        return PushOutcome::present;
    }
    if (r.status != 404) c_.fail(r, "HEAD " + what);
    for (int attempt = 1;; ++attempt) {
        try {
            return upload(d, what);
        } catch (const RegistryError& e) {
            if (e.status() == 401 || e.status() == 403 || e.status() == 404 || attempt >= kUploadAttempts) throw;
            progress_.message("warning: " + what + ": " + e.what() + "; uploading again");
        } catch (const TransportError& e) {
            if (attempt >= kUploadAttempts) throw;
            progress_.message("warning: " + what + ": " + e.what() + "; uploading again");
        }
    }
}

void BlobPusher::remember(const Digest& d) {
    layerstore::remember_blob_source(store_, d, dest_.registry + "/" + dest_.repository);
}

// Another repository of this registry the store knows the blob from.
std::optional<std::string> BlobPusher::mount_source(const Digest& d) {
    std::string prefix = dest_.registry + "/";
    for (const auto& s : layerstore::blob_sources(store_, d)) {
        if (s.rfind(prefix, 0) != 0) continue;
        std::string repo = s.substr(prefix.size());
        if (repo != dest_.repository) return repo;
    }
    return std::nullopt;
}

PushOutcome BlobPusher::upload(const oci::Descriptor& d, const std::string& what) {
    Request post;
    post.method = "POST";
    post.url = "/v2/" + dest_.repository + "/blobs/uploads/";
    std::vector<std::string> scopes = scopes_;
    auto from = mount_source(d.digest);
    if (from) {
        post.url += "?mount=" + url_escape(d.digest.str()) + "&from=" + url_escape(*from);
        scopes.push_back(pull_scope(*from));
    }
    Response r = c_.send(post, scopes);
    if (from && r.status == 201) {
        progress_.finish(d.digest, "Mounted from " + *from);
        return PushOutcome::mounted;
    }
    if (r.status != 202) c_.fail(r, "POST " + what + " upload");
    std::string loc = upload_location(r, what);
    auto fd = store_.open_blob(d.digest);
    uint64_t size = static_cast<uint64_t>(d.size);
    progress_.start(d.digest, "Pushing", size);
    if (size <= kMonolithicLimit) {
        Request put;
        put.method = "PUT";
        put.url = with_query(loc, "digest=" + url_escape(d.digest.str()));
        put.headers = {"Content-Type: application/octet-stream"};
        put.body_fd = fd.get();
        put.body_size = size;
        put.sent = [&](uint64_t n) { progress_.update(d.digest, n); };
        Response done = c_.send(put, scopes_);
        if (done.status != 201) c_.fail(done, "PUT " + what);
    } else {
        for (uint64_t off = 0; off < size; off += kUploadChunk) {
            uint64_t len = std::min(kUploadChunk, size - off);
            Request patch;
            patch.method = "PATCH";
            patch.url = loc;
            patch.headers = {"Content-Type: application/octet-stream",
                             "Content-Range: " + std::to_string(off) + "-" + std::to_string(off + len - 1)};
            patch.body_fd = fd.get();
            patch.body_offset = off;
            patch.body_size = len;
            patch.sent = [&, off](uint64_t n) { progress_.update(d.digest, off + n); };
            Response pr = c_.send(patch, scopes_);
            if (pr.status != 202) c_.fail(pr, "PATCH " + what);
            loc = upload_location(pr, what);
        }
        Request put;
        put.method = "PUT";
        put.url = with_query(loc, "digest=" + url_escape(d.digest.str()));
        put.body = std::string();
        Response done = c_.send(put, scopes_);
        if (done.status != 201) c_.fail(done, "PUT " + what);
    }
    progress_.finish(d.digest, "Pushed");
    return PushOutcome::uploaded;
}

namespace {

PushResult push(layerstore::Store& store, const layerstore::Image& image, const Reference& dest,
                const RegistryOptions& opts, const PushOptions& popts, TransferProgress& progress) {
    Transport transport(opts.tls_verify);
    Client c(transport, dest.registry, opts);
    BlobPusher pusher(store, c, dest, progress);
    // The stored manifest goes up as it is when every blob it names is at hand.
    // (Not plain tars though: a loaded docker-archive's layers are compressed for the registry.)
    bool as_is = true;
    for (const auto& l : image.manifest.layers)
        as_is = as_is && store.has_blob(l.digest) && l.media_type != oci::media::oci_layer_tar &&
                l.media_type != oci::media::docker_layer_tar;
    std::vector<oci::Descriptor> layers(image.layers.size());
    std::atomic<size_t> uploaded{0}, mounted{0}, present{0};
    auto count = [&](PushOutcome o) { (o == PushOutcome::uploaded ? uploaded : o == PushOutcome::mounted ? mounted : present)++; };
    // The config first and alone: small, and some registries want it before the manifest.
    count(pusher.push_blob(image.manifest.config));
    parallel_for(image.layers.size(), kParallelTransfers, [&](size_t i) {
        layers[i] = as_is ? image.manifest.layers[i]
                          : oci::oci_layer_type(layerstore::compressed_layer_blob(store, image.layers[i], popts.compression));
        count(pusher.push_blob(layers[i]));
    });
    std::string bytes, media_type;
    if (as_is) {
        bytes = store.read_blob(image.manifest_digest);
        media_type = image.manifest.media_type;
    } else {
        oci::Manifest m;
        m.media_type = oci::media::oci_manifest;
        m.config = image.manifest.config;
        m.config.media_type = oci::media::oci_config;
        m.layers = layers;
        bytes = oci::canonical(oci::to_json(m));
        media_type = m.media_type;
    }
    Digest digest = Digest::of(bytes);
    (void)put_manifest(c, dest.repository, dest.tag.empty() ? digest.str() : dest.tag, bytes, media_type, progress);
    pusher.remember(image.manifest.config.digest);
    for (const auto& l : layers) pusher.remember(l.digest);
    PushResult res{digest, bytes.size(), uploaded, mounted, present};
    return res;
}

}  // namespace

Digest put_manifest(Client& c, const std::string& repo, const std::string& ref, const std::string& bytes,
                    const std::string& media_type, TransferProgress& progress) {
    Digest digest = Digest::of(bytes);
    Request put;
    put.method = "PUT";
    put.url = "/v2/" + repo + "/manifests/" + ref;
    put.headers = {"Content-Type: " + media_type};
    put.body = bytes;
    Response r = c.send(put, {push_scope(repo)});
    if (r.status != 201 && r.status != 200) c.fail(r, "PUT manifest");
    std::string theirs = r.header("docker-content-digest");
    if (!theirs.empty() && theirs != digest.str())
        progress.message("warning: the registry says the manifest is " + theirs + ", we computed " + digest.str());
    return digest;
}

PushResult push_image(layerstore::Store& store, const layerstore::Image& image, const Reference& dest,
                      const RegistryOptions& opts, const PushOptions& popts, TransferProgress& progress) {
    PushResult res;
    try {
        res = push(store, image, dest, opts, popts, progress);
    } catch (const Error& e) {
        throw Error("push " + dest.local_name() + ": " + e.what());
    }
    if (popts.digestfile) {
        auto dir = popts.digestfile->parent_path();
        atomic_write_file(*popts.digestfile, res.digest.str(), dir.empty() ? "." : dir, Durability::relaxed);
    }
    progress.summary((dest.tag.empty() ? dest.local_name() : dest.tag) + ": digest: " + res.digest.str() +
                         " size: " + std::to_string(res.size),
                     res.digest.str());
    return res;
}

}  // namespace imgbuild::registry
