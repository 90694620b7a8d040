// Content-addressed blobs: blobs/sha256/<hex>, written through tmp/, verified on read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.h"
#include "layerstore/store.h"

namespace imgbuild::layerstore {

namespace fs = std::filesystem;

fs::path Store::blob_path(const Digest& d) const { return root_ / "blobs/sha256" / d.hex(); }

bool Store::has_blob(const Digest& d) const {
    hold(ObjectKind::blob, d.hex());
    return ::access(blob_path(d).c_str(), F_OK) == 0;
}

namespace {

uint64_t file_size_or_max(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : UINT64_MAX;
}

}  // namespace

// Idempotent put, but never onto damage: an existing blob is kept only when it has the
// right size and digest (a re-hash, paid only when the blob already exists); a damaged
// one is replaced by the good copy in hand.
bool Store::intact_blob(const Digest& d, uint64_t size) const {
    return has_blob(d) && file_size_or_max(blob_path(d)) == size && verify_blob(d);
}

void Store::adopt_blob_file(const fs::path& tmp_file, const Digest& d) {
    hold(ObjectKind::blob, d.hex());
    if (intact_blob(d, file_size_or_max(tmp_file))) {
        ::unlink(tmp_file.c_str());
        return;
    }
    ::chmod(tmp_file.c_str(), 0444);
    rename_or_throw(tmp_file, blob_path(d));
    fsync_dir(blob_path(d).parent_path());
}

Digest Store::put_blob(std::string_view bytes, Durability durability) {
    Digest d = Digest::of(bytes);
    if (intact_blob(d, bytes.size())) {
        // It may have been put relaxed before: make it durable now if that is asked for.
        if (durability == Durability::durable) fsync_path(blob_path(d));
        return d;
    }
    fs::path tmp = tmp_dir() / ("blob-" + random_hex(8));
    {
        auto fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
        write_all(fd.get(), bytes, tmp);
        if (durability == Durability::durable && ::fsync(fd.get()) != 0) throw_errno("fsync", tmp.string());
    }
    if (durability == Durability::relaxed) {
        ::chmod(tmp.c_str(), 0444);
        rename_or_throw(tmp, blob_path(d));
        return d;
    }
    adopt_blob_file(tmp, d);
    return d;
}

std::pair<Digest, uint64_t> Store::put_blob_from_fd(int fd, const std::optional<Digest>& expected,
                                                    const std::string& what) {
    fs::path tmp = tmp_dir() / ("blob-" + random_hex(8));
    Sha256 hash;
    {
        auto out = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
        std::vector<char> buf(1 << 20);
        for (;;) {
            ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                ::unlink(tmp.c_str());
                throw_errno("read", what);
            }
            if (n == 0) break;
            hash.update(buf.data(), static_cast<size_t>(n));
            write_all(out.get(), std::string_view(buf.data(), static_cast<size_t>(n)), tmp);
        }
        if (::fsync(out.get()) != 0) throw_errno("fsync", tmp.string());
    }
    uint64_t size = hash.bytes();
    Digest got = hash.finish();
    if (expected && got != *expected) {
        ::unlink(tmp.c_str());
        throw Error(what + ": digest mismatch: expected " + expected->str() + ", got " + got.str());
    }
    adopt_blob_file(tmp, got);
    return {got, size};
}

std::string Store::read_blob(const Digest& d) const {
    hold(ObjectKind::blob, d.hex());
    std::string bytes;
    try {
        bytes = read_file(blob_path(d));
    } catch (const SystemError& e) {
        if (e.error_number() == ENOENT) throw NotFoundError("blob " + d.str() + " is not in the store");
        throw;
    }
    if (Digest::of(bytes) != d) throw CorruptError("blob " + d.str() + " is damaged: its content does not match its digest (run imgbuild fsck)");
    return bytes;
}

unique_fd Store::open_blob(const Digest& d) const {
    hold(ObjectKind::blob, d.hex());
    int fd = ::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) throw NotFoundError("blob " + d.str() + " is not in the store");
        throw_errno("open", blob_path(d).string());
    }
    return unique_fd(fd);
}

bool Store::verify_blob(const Digest& d, std::string* problem) const {
    hold(ObjectKind::blob, d.hex());
    int fd = ::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (problem) *problem = "blob " + d.str() + ": missing";
        return false;
    }
    unique_fd guard(fd);
    Digest got;
    try {
        got = hash_to_end(fd, blob_path(d));
    } catch (const SystemError& e) {
        if (problem) *problem = "blob " + d.str() + ": " + e.what();
        return false;
    }
    if (got != d) {
        if (problem) *problem = "blob " + d.str() + ": content hashes to " + got.str();
        return false;
    }
    return true;
}

std::vector<Digest> Store::list_blobs() const {
    std::vector<Digest> out;
    for (const auto& e : fs::directory_iterator(root_ / "blobs/sha256")) {
        auto d = Digest::try_parse("sha256:" + e.path().filename().string());
        if (d) out.push_back(*d);
    }
    return out;
}

}  // namespace imgbuild::layerstore
