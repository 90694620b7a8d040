#include "layerstore/blob_stamps.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path stamps_path(const Store& s, const LayerInfo& l) { return s.root() / "layers" / l.id / "blob_stamps.json"; }

std::string stamp_of(const struct stat& st) {
    return std::to_string(st.st_size) + " " + std::to_string(st.st_ino) + " " + std::to_string(st.st_ctim.tv_sec) + "." +
           std::to_string(st.st_ctim.tv_nsec);
}

// The recorded stamps ({} when none or unreadable: then every blob is hashed).
json read_stamps(const fs::path& path) {
    try {
        json j = json::parse(read_file(path));
        if (j.is_object()) return j;
    } catch (const std::exception&) {
    }
    return json::object();
}

}  // namespace

bool stored_blob_intact(const Store& s, const LayerInfo& l, const oci::Descriptor& b) {
    if (!s.has_blob(b.digest)) return false;  // (also holds it against a concurrent prune)
    const fs::path blob = s.blob_path(b.digest);
    try {
        unique_fd fd(::open(blob.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return false;  // missing: not referenced, nothing to warn about
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) throw_errno("stat", blob.string());
        if (st.st_size != b.size) {
            log::warn("layer " + l.id + ": blob " + b.digest.str() + " is damaged (size " + std::to_string(st.st_size) +
                      ", recorded " + std::to_string(b.size) + "): not referenced (run imgbuild fsck)");
            return false;
        }
        const fs::path path = stamps_path(s, l);
        json stamps = read_stamps(path);
        // Taken before hashing: a write during the hash moves the ctime past this stamp.
        const std::string now = stamp_of(st);
        auto it = stamps.find(b.digest.str());
        if (it != stamps.end() && it->is_string() && it->get<std::string>() == now) return true;
        if (hash_to_end(fd.get(), blob) != b.digest) {
            log::warn("layer " + l.id + ": blob " + b.digest.str() + " is damaged: not referenced (run imgbuild fsck)");
            return false;
        }
        stamps[b.digest.str()] = now;
        try {
            atomic_write_file(path, stamps.dump(), s.tmp_dir(), Durability::relaxed);
        } catch (const std::exception& e) {  // a read-only store: hashed again next time
            log::debug(std::string(e.what()) + ": blob stamp not recorded");
        }
        return true;
    } catch (const std::exception& e) {
        log::warn(std::string(e.what()) + ": not referenced");
        return false;
    }
}

}  // namespace imgbuild::layerstore
