#pragma once
// The local store (DESIGN.md §3): content-addressed blobs, unpacked layers, images, tags,
// container and volume dirs, one store lock.
//
// Contracts:
// - Every file is written beside its destination's filesystem first (tmp/, or the container's
//   or volume's own dir for their records) and renamed into place: a crash leaves the old
//   state or the new one (TempFile in common/fs.h). Lease files (leases/) are the exception:
//   appended one line per write(2), a torn last line is ignored.
// - Blobs, a layer's meta.json and its layers/ entry, and the index are fsync'ed
//   (Durability::durable). The files inside a layer's diff/ are not (one fsync per file
//   would dominate a COPY of many files): after a power loss the layer's stamp and dir
//   digest in meta.json let fsck and reuse checks find a short one. Intermediate build
//   configs, cache entries and container/volume records are not fsync'ed either
//   (Durability::relaxed: verified when read, a torn one is a cache miss). Stale tmp/
//   entries are removed when the store is opened exclusively (no other process holds the lock).
// - put_blob is idempotent: writing a blob that exists intact is a no-op; a damaged one is
//   replaced by the good bytes.
// - read_blob verifies digest and size; a damaged blob is an error, never returned.
// - Layer ids are OCI chain ids: chain(L1) = diffID(L1), chain(Ln) = sha256(chain(Ln-1) + " " + diffID(Ln)).
//   The same diff on the same parent is the same layer.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/fs.h"
#include "layerstore/layer_stamp.h"
#include "common/unique_fd.h"
#include "layerstore/leases.h"
#include "oci/image.h"

namespace imgbuild::layerstore {

struct LayerInfo {
    std::string id;                          // chain id (hex)
    Digest diff_id;                          // digest of the uncompressed layer tar
    std::optional<std::string> parent;       // parent chain id
    uint64_t tar_size = 0;                   // size of the uncompressed tar
    std::optional<Digest> dir_digest;        // digest of our own tar of diff/ (fsck re-checks it)
    std::optional<int64_t> source_date_epoch;  // mtime clamp used for our tar of diff/ (reproducible builds)
    std::vector<oci::Descriptor> blobs;      // stored (compressed) blobs of this diff, if any
    std::filesystem::path diff_dir;          // layers/<id>/diff, usable as an overlay lowerdir
    std::optional<DirStamp> stamp;           // diff/'s cheap stamp, checked before each use (layer_stamp.h)
};

struct Image {
    Digest manifest_digest;
    oci::Manifest manifest;
    Digest config_digest;                    // the image id
    nlohmann::json config;
    std::vector<LayerInfo> layers;           // bottom layer first
};

struct TagEntry {
    std::string name;                        // "busybox:latest"
    Digest manifest_digest;
};

// How a store lock is held for the lifetime of a Store object.
enum class LockMode { shared, exclusive };

class Store;

// The gc lock held exclusive (gc, prune, fsck --repair): no process can take a new lease
// meanwhile, and this Store's own lookups take none (they would wait for themselves).
class GcExclusive {
public:
    explicit GcExclusive(const Store& store);
    ~GcExclusive();
    GcExclusive(const GcExclusive&) = delete;
    GcExclusive& operator=(const GcExclusive&) = delete;

private:
    const Store& store_;
    unique_fd fd_;
};

class Store {
public:
    // Opens (creating if needed) the store at `root`. Holds the store lock in `mode`
    // until destruction; ordinary commands take it shared, gc/fsck-repair take it exclusive.
    explicit Store(std::filesystem::path root, LockMode mode = LockMode::shared);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    [[nodiscard]] const std::filesystem::path& root() const { return root_; }
    [[nodiscard]] std::filesystem::path tmp_dir() const { return root_ / "tmp"; }
    [[nodiscard]] std::filesystem::path containers_dir() const { return root_ / "containers"; }
    [[nodiscard]] std::filesystem::path volumes_dir() const { return root_ / "volumes"; }
    [[nodiscard]] std::filesystem::path short_links_dir() const { return root_ / "l"; }
    // The containers' shared init layer (runtime::ensure_shared_init_layer): made once.
    [[nodiscard]] std::filesystem::path init_layer_dir() const { return root_ / "init-layer"; }
    // The fd holding the store lock (a background remover inherits it: background_remove.h).
    [[nodiscard]] int lock_fd() const { return lock_fd_.get(); }
    [[nodiscard]] std::filesystem::path leases_dir() const { return root_ / "leases"; }
    [[nodiscard]] std::filesystem::path gc_lock_path() const { return root_ / "gc.lock"; }
    // Records in this Store's lease that this process uses the object (leases.h). Every
    // lookup and write of a blob or layer below does it before it checks that the object
    // exists; callers only need it for objects they reach by other paths.
    void hold(ObjectKind kind, const std::string& id) const;
    // A staging dir under tmp/, removed unless released (then rename it into place).
    [[nodiscard]] TempDir make_temp_dir(std::string_view prefix) const;

    // ---- blobs
    [[nodiscard]] bool has_blob(const Digest& d) const;
    [[nodiscard]] std::filesystem::path blob_path(const Digest& d) const;
    // Relaxed blobs (intermediate build configs) skip the fsyncs; they are still verified
    // whenever read, so a torn one after a power loss is found, never used.
    Digest put_blob(std::string_view bytes, Durability durability = Durability::durable);
    // Streams a blob from `fd`; verifies it against `expected` when given (throws on mismatch,
    // storing nothing). Returns the digest and size.
    std::pair<Digest, uint64_t> put_blob_from_fd(int fd, const std::optional<Digest>& expected,
                                                 const std::string& what_for_errors);
    // Moves a finished file (already in tmp/) in as the blob `d`; idempotent.
    void adopt_blob_file(const std::filesystem::path& tmp_file, const Digest& d);
    [[nodiscard]] std::string read_blob(const Digest& d) const;  // verified; small blobs only
    // Opens a blob for streaming; the caller verifies as it reads (see verify_blob).
    [[nodiscard]] unique_fd open_blob(const Digest& d) const;
    // Re-hashes a blob; false when missing or damaged.
    [[nodiscard]] bool verify_blob(const Digest& d, std::string* problem = nullptr) const;
    // Present with this size and its digest (a re-hash).
    [[nodiscard]] bool intact_blob(const Digest& d, uint64_t size) const;
    [[nodiscard]] std::vector<Digest> list_blobs() const;

    // ---- layers
    [[nodiscard]] std::optional<LayerInfo> layer(const std::string& chain_id) const;
    [[nodiscard]] static std::string chain_id(const std::optional<std::string>& parent, const Digest& diff_id);
    // Turns `dir` (overlay format: whiteouts as 0:0 char devices, opaque dirs by xattr) into
    // a layer on top of `parent`. The dir is moved, not copied. If the same layer exists the
    // dir is removed and the existing layer returned.
    // With source_date_epoch, the layer's tar clamps mtimes to it (also whenever it is made again).
    LayerInfo commit_layer_dir(const std::filesystem::path& dir, const std::optional<std::string>& parent,
                               std::optional<int64_t> source_date_epoch = std::nullopt);
    // Streams a layer blob (any compression) from `fd`, stores the blob as is and unpacks it.
    // `expected` is the blob digest from a manifest (verified), `diff_id` the config's (verified).
    LayerInfo add_layer_blob(int fd, const std::optional<std::string>& parent, const oci::Descriptor& expected,
                             const std::optional<Digest>& diff_id);
    // Moves a staged layer (`staged`/diff, already extracted and checked; see layer_import.h)
    // into layers/<info.id>; an existing layer of that id wins (same content by definition).
    LayerInfo install_staged_layer(TempDir& staged, const LayerInfo& info);

    // ---- images and tags
    // Writes config + manifest blobs for `config` over `layers`; returns the image.
    Image put_image(const nlohmann::json& config, const std::vector<LayerInfo>& layers);
    // As put_image, but keeps the config bytes as given (loaded or pulled images keep their
    // id); their rootfs.diff_ids must match `layers`.
    Image put_image_config_bytes(const std::string& config_bytes, const std::vector<LayerInfo>& layers);
    [[nodiscard]] Image image(const Digest& manifest_digest) const;
    // name[:tag] (tag defaults to latest), full or short image id (config digest prefix),
    // or sha256:<manifest digest>. nullopt when nothing matches.
    [[nodiscard]] std::optional<Image> find_image(std::string_view ref) const;
    // As find_image but throws Error("image not found: <ref>").
    [[nodiscard]] Image resolve_image(std::string_view ref) const;
    void tag(std::string_view name, const Digest& manifest_digest);
    // Removes a tag; returns false if there was none.
    bool untag(std::string_view name);
    [[nodiscard]] std::vector<TagEntry> tags() const;  // untagged images have an empty name
    // Records an image without a name (a build with no -t), unless it is already listed.
    void keep_untagged(const Digest& manifest_digest);
    // Removes every index entry (all names) of the image; its blobs and layers stay until prune.
    void remove_image(const Digest& manifest_digest);
    // Records a stored blob for an existing layer (a compressed form made for save or push).
    void add_layer_blob_record(const std::string& layer_id, const oci::Descriptor& blob);
    // Drops a damaged or missing blob from the layer's records (fsck --repair); no-op when absent.
    void remove_layer_blob_record(const std::string& layer_id, const Digest& blob);

private:
    friend class GcExclusive;
    std::filesystem::path root_;
    unique_fd lock_fd_;
    mutable std::mutex lease_mu_;  // a build's stage threads share this Store: one lease append at a time
    mutable std::unique_ptr<Lease> lease_;
    mutable bool gc_exclusive_ = false;
};

// images/index.json and its backup images/index.backup.json (every write writes both; a
// read falls back to the backup with a warning). Empty strings: the file is sound.
struct IndexCheck {
    std::string primary_problem, backup_problem;
};
[[nodiscard]] IndexCheck check_index(const Store& store);
// Rewrites the damaged one from the sound one; when both are lost, lists every manifest of
// the store as an untagged image. Returns what it did.
std::string restore_index(const Store& store);

// "busybox" -> "busybox:latest"; "host:5000/a/b" -> "host:5000/a/b:latest"; keeps "@sha256:" refs
// (a pull by digest is stored under its digest name). Docker Hub names take their short form, as
// in docker: "docker.io/library/busybox:1" -> "busybox:1", "docker.io/me/app" -> "me/app:latest".
// Throws UsageError naming the reference and what is wrong with it (oci::parse_reference).
[[nodiscard]] std::string normalize_tag(std::string_view name);
// A name a user gives to an image (-t, tag, commit, import): as normalize_tag, and no digest.
[[nodiscard]] std::string normalize_new_tag(std::string_view name);

}  // namespace imgbuild::layerstore
