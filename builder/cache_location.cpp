#include "builder/cache_location.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include "common/error.h"
#include "common/fs.h"
#include "oci/image.h"
#include "registry/distribution.h"
#include "registry/reference.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class RegistryLocation : public CacheLocation {
public:
    RegistryLocation(layerstore::Store& store, const std::string& ref, const registry::RegistryOptions& opts)
        : store_(store), ref_(registry::parse_reference(ref)), transport_(opts.tls_verify),
          client_(transport_, ref_.registry, opts), progress_(registry::make_transfer_progress("quiet")) {
        if (ref_.tag.empty() && !ref_.digest) ref_.tag = "latest";
    }
    std::string name() const override { return "registry " + ref_.str(); }
    std::optional<std::string> manifest() override {
        try {
            return registry::get_manifest(client_, ref_.repository, ref_.manifest_ref()).bytes;
        } catch (const registry::RegistryError& e) {
            if (e.status() == 404) return std::nullopt;
            throw;
        }
    }
    void fetch(layerstore::BlobImport& into) override {
        registry::download_blob(client_, ref_.repository, into, *progress_);
    }
    void put_blob(const oci::Descriptor& d) override {
        registry::BlobPusher pusher(store_, client_, ref_, *progress_);
        (void)pusher.push_blob(d);
        pusher.remember(d.digest);
    }
    void put_manifest(const std::string& bytes, const std::string& media_type) override {
        if (ref_.tag.empty()) throw Error(name() + ": --cache-to needs a tag, not a digest");
        (void)registry::put_manifest(client_, ref_.repository, ref_.tag, bytes, media_type, *progress_);
    }

private:
    layerstore::Store& store_;
    registry::Reference ref_;
    registry::Transport transport_;
    registry::Client client_;
    std::unique_ptr<registry::TransferProgress> progress_;
};

constexpr const char* kRefName = "org.opencontainers.image.ref.name";

// An OCI image layout (image-spec layout.md); the cache manifest is the entry named "cache".
class LocalLocation : public CacheLocation {
public:
    LocalLocation(layerstore::Store& store, fs::path dir) : store_(store), dir_(std::move(dir)) {}
    std::string name() const override { return "local " + dir_.string(); }
    std::optional<std::string> manifest() override {
        if (!fs::exists(dir_ / "index.json")) return std::nullopt;
        std::string what = (dir_ / "index.json").string();
        oci::Index idx = oci::index_from_json(oci::parse_json(read_file(dir_ / "index.json"), what), what);
        for (const auto& m : idx.manifests) {
            auto it = m.annotations.find(kRefName);
            if (it == m.annotations.end() || it->second != "cache") continue;
            std::string bytes = read_file(blob(m.digest));
            if (Digest::of(bytes) != m.digest) throw Error(blob(m.digest).string() + ": does not hash to its name");
            return bytes;
        }
        return std::nullopt;
    }
    void fetch(layerstore::BlobImport& into) override {
        fs::path p = blob(into.expected().digest);
        unique_fd fd = open_or_throw(p, O_RDONLY | O_CLOEXEC);
        char buf[1 << 16];
        for (;;) {
            ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0) throw_errno("read", p);
            if (n == 0) break;
            into.write(buf, static_cast<size_t>(n));
        }
        into.verify();
    }
    void put_blob(const oci::Descriptor& d) override {
        check_layout_once();
        fs::path dest = blob(d.digest);
        struct stat st{};
        if (::stat(dest.c_str(), &st) == 0 && st.st_size == d.size) return;  // content-addressed: there already
        make_dirs(dest.parent_path());
        unique_fd in = store_.open_blob(d.digest);
        fs::path tmp = dest.parent_path() / (".tmp-" + random_hex(8));
        {
            unique_fd out = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            char buf[1 << 16];
            for (;;) {
                ssize_t n = ::read(in.get(), buf, sizeof buf);
                if (n < 0) throw_errno("read blob", store_.blob_path(d.digest));
                if (n == 0) break;
                write_all(out.get(), std::string_view(buf, static_cast<size_t>(n)), tmp);
            }
        }
        rename_or_throw(tmp, dest);
    }
    void put_manifest(const std::string& bytes, const std::string& media_type) override {
        check_layout_once();
        make_dirs(dir_ / "blobs" / "sha256");
        Digest d = Digest::of(bytes);
        atomic_write_file(blob(d), bytes, dir_ / "blobs" / "sha256");
        atomic_write_file(dir_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})", dir_);
        oci::Descriptor desc{media_type, d, static_cast<int64_t>(bytes.size()), {{kRefName, "cache"}}, std::nullopt};
        oci::Index idx;
        idx.manifests.push_back(desc);
        json j = oci::to_json(idx);
        j["schemaVersion"] = 2;
        j["mediaType"] = oci::media::oci_index;
        atomic_write_file(dir_ / "index.json", oci::canonical(j), dir_);
        remove_unreferenced(bytes);
    }

private:
    fs::path blob(const Digest& d) const { return dir_ / "blobs" / "sha256" / d.hex(); }
    // An export replaces index.json and removes blobs it does not name: never in a layout that
    // holds something else (an image saved there).
    void refuse_foreign_layout() const {
        if (!fs::exists(dir_ / "index.json")) {
            if (fs::exists(dir_) && !fs::is_empty(dir_))
                throw Error(dir_.string() + ": not empty and not an OCI layout of a build cache: not writing there");
            return;
        }
        std::string what = (dir_ / "index.json").string();
        oci::Index idx = oci::index_from_json(oci::parse_json(read_file(dir_ / "index.json"), what), what);
        for (const auto& m : idx.manifests) {
            auto it = m.annotations.find(kRefName);
            if (it == m.annotations.end() || it->second != "cache")
                throw Error(what + ": the layout holds more than a build cache (" + m.digest.str() + "): not writing there");
        }
    }
    // A directory saved between CI jobs must not grow with every export: what the new manifest
    // does not name goes.
    void remove_unreferenced(const std::string& manifest_bytes) {
        std::string what = "cache manifest";
        oci::Manifest m = oci::manifest_from_json(oci::parse_json(manifest_bytes, what), what);
        std::set<std::string> keep = {Digest::of(manifest_bytes).hex(), m.config.digest.hex()};
        for (const auto& l : m.layers) keep.insert(l.digest.hex());
        for (const auto& e : fs::directory_iterator(dir_ / "blobs" / "sha256")) {
            std::string n = e.path().filename().string();
            if (n.size() == 64 && is_lower_hex(n) && !keep.count(n)) ::unlink(e.path().c_str());
        }
    }
    // refuse_foreign_layout once, before the first write. Not std::call_once: its exception
    // would cross pthread_once's C frame, which aborts with the static unwinder
    // (cmake/libraries.cmake). A refusal is thrown again by the next call, as with call_once.
    void check_layout_once() {
        std::lock_guard lock(checked_mutex_);
        if (checked_) return;
        refuse_foreign_layout();
        checked_ = true;
    }
    layerstore::Store& store_;
    fs::path dir_;
    std::mutex checked_mutex_;
    bool checked_ = false;
};

}  // namespace

std::unique_ptr<CacheLocation> open_cache_location(layerstore::Store& store, const CacheSpec& spec,
                                                   const registry::RegistryOptions& opts) {
    if (spec.type == "registry") return std::make_unique<RegistryLocation>(store, spec.location, opts);
    return std::make_unique<LocalLocation>(store, fs::absolute(spec.location));
}

}  // namespace imgbuild::builder
