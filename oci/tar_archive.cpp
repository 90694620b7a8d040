#include "oci/tar_archive.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/path_resolve.h"
#include "oci/expansion_limit.h"

namespace imgbuild::oci {

namespace fs = std::filesystem;

namespace {
// libarchive's message, with the errno it recorded ("Write error: ENOSPC (No space left on
// device)"): its fd writer says only "Write error" when the disk is full.
std::string archive_problem(struct archive* a) {
    const char* msg = archive_error_string(a);
    std::string out = msg ? msg : "unknown error";
    int err = archive_errno(a);
    if (err > 0 && out.find(std::strerror(err)) == std::string::npos) out += ": " + describe_errno(err);
    return out;
}
}  // namespace

// A libarchive reader with only the in-process decompressors enabled: never
// archive_read_support_filter_all, which may run external programs.
struct ArchiveReader {
    struct archive* a = archive_read_new();
    ArchiveReader() {
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_bzip2(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_zstd(a);
    }
    ~ArchiveReader() { archive_read_free(a); }
    ArchiveReader(const ArchiveReader&) = delete;
    ArchiveReader& operator=(const ArchiveReader&) = delete;
};

TarArchiveWriter::TarArchiveWriter(int out_fd, std::string what) : a_(archive_write_new()), what_(std::move(what)) {
    archive_write_set_format_pax_restricted(a_);
    // No blocking: the data goes out in add_file's 1 MiB writes instead of being copied into
    // 10 KiB blocks, one write each (a 400 MiB layer took 40k writes). The bytes are the same:
    // with no padding of the last block, blocking only cuts the stream into writes.
    archive_write_set_bytes_per_block(a_, 0);
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open_fd(a_, out_fd) != ARCHIVE_OK)
        throw Error("write " + what_ + ": " + archive_problem(a_));
}

TarArchiveWriter::~TarArchiveWriter() { archive_write_free(a_); }

void TarArchiveWriter::header(const std::string& name, unsigned type, int64_t size, unsigned mode) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = archive_write_header(a_, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) throw Error("write " + what_ + ": entry " + name + ": " + archive_problem(a_));
}

void TarArchiveWriter::add_dir(const std::string& name) { header(name, AE_IFDIR, 0, 0755); }

void TarArchiveWriter::add_bytes(const std::string& name, std::string_view bytes) {
    header(name, AE_IFREG, static_cast<int64_t>(bytes.size()), 0644);
    if (!bytes.empty() && archive_write_data(a_, bytes.data(), bytes.size()) < 0)
        throw Error("write " + what_ + ": entry " + name + ": " + archive_problem(a_));
}

void TarArchiveWriter::add_file(const std::string& name, const fs::path& source, const std::optional<Digest>& expected) {
    auto fd = open_or_throw(source, O_RDONLY);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat", source.string());
    header(name, AE_IFREG, st.st_size, 0644);
    Sha256 hash;
    std::vector<char> buf(1 << 20);
    int64_t left = st.st_size;
    while (left > 0) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) throw_errno("read", source.string());
        if (n == 0) throw Error("read " + source.string() + ": file shrank while being archived");
        if (n > left) n = static_cast<ssize_t>(left);
        if (expected) hash.update(buf.data(), static_cast<size_t>(n));
        if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0)
            throw Error("write " + what_ + ": entry " + name + ": " + archive_problem(a_));
        left -= n;
    }
    if (!expected) return;
    Digest got = hash.finish();
    if (got != *expected)
        throw Error("write " + what_ + ": " + source.string() + " is damaged: its content hashes to " + got.str() +
                    ", not " + expected->str() + " (run imgbuild fsck)");
}

void TarArchiveWriter::close() {
    if (closed_) return;
    closed_ = true;
    if (archive_write_close(a_) != ARCHIVE_OK) throw Error("write " + what_ + ": " + archive_problem(a_));
}

namespace {

// An entry path of an outer archive, cleaned lexically ("./a//b" -> "a/b"): empty when it
// is absolute, climbs with "..", or names the archive root. Outer archives hold only
// relative names; anything else is refused, never "contained".
std::string clean_relative(const std::string& raw) {
    if (raw.empty() || raw[0] == '/') return {};
    auto comps = clean_path_components(raw);
    if (!comps || comps->empty()) return {};
    for (const auto& c : *comps)
        if (c == "..") return {};
    std::string out;
    for (const auto& c : *comps) out += (out.empty() ? "" : "/") + c;
    return out;
}

// A link entry, made once every regular file is out: `path` becomes a hard link to the
// regular file at `target` (both cleaned, relative to the archive root).
struct PendingLink {
    std::string path, target;
};

// The cleaned archive-relative target of a link entry, or "" when it points outside the
// archive. A hardlink target is relative to the archive root, a symlink target to the
// link's directory; absolute targets are refused for both (a hard link named
// "/etc/shadow" must never reach the host's file).
std::string link_target(archive_entry* e, const std::string& name) {
    if (const char* hard = archive_entry_hardlink(e)) return clean_relative(hard);
    const char* sym = archive_entry_symlink(e);
    if (!sym || !*sym || sym[0] == '/') return {};
    std::string parent = fs::path(name).parent_path().string();
    return clean_relative(parent.empty() ? std::string(sym) : parent + "/" + sym);
}

std::string parent_of(const std::string& rel) {
    size_t s = rel.rfind('/');
    return s == std::string::npos ? std::string() : rel.substr(0, s);
}
std::string base_of(const std::string& rel) {
    size_t s = rel.rfind('/');
    return s == std::string::npos ? rel : rel.substr(s + 1);
}

// Raw (uncompressed) bytes read from the input fd, for the expansion limit.
struct CountingInput {
    int fd;
    uint64_t bytes = 0;
    std::vector<char> buf = std::vector<char>(1 << 20);
    static la_ssize_t read_cb(struct archive* a, void* self_ptr, const void** out) {
        auto* self = static_cast<CountingInput*>(self_ptr);
        for (;;) {
            ssize_t n = ::read(self->fd, self->buf.data(), self->buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                archive_set_error(a, errno, "read: %s", std::strerror(errno));
                return -1;
            }
            self->bytes += static_cast<uint64_t>(n);
            *out = self->buf.data();
            return n;
        }
    }
};

// Copies one entry's data to a new file, keeping sparse holes as holes (libarchive hands
// sparse entries over as data blocks at offsets; a trailing hole is made by ftruncate).
void copy_entry_data(struct archive* a, int dirfd, const std::string& name, const std::string& shown,
                     archive_entry* e, const std::string& what, ExpansionGuard& guard, const CountingInput& in) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT && errno != EISDIR) throw_errno("unlink", shown);
    unique_fd out(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!out) throw_errno("create", shown);
    const void* buf;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
        guard.add(size, in.bytes, what);
        pwrite_all(out.get(), buf, size, offset, shown);
    }
    if (r != ARCHIVE_EOF) throw Error("read " + what + ": entry \"" + shown + "\": " + archive_error_string(a));
    if (archive_entry_size_is_set(e) && ::ftruncate(out.get(), archive_entry_size(e)) != 0) throw_errno("truncate", shown);
}

// Makes the links whose targets are regular files of the archive by now; a link to a link
// waits for a later round. Targets are looked up in `extracted` (the paths this call
// wrote), never on disk by name alone, and opened with the in-root resolver: nothing
// outside dest, nor anything in dest that the archive did not put there, is ever linked.
void make_pending_links(std::vector<PendingLink> links, int root_fd, std::set<std::string>& extracted,
                        const std::string& what) {
    while (!links.empty()) {
        std::vector<PendingLink> waiting;
        for (const auto& l : links) {
            if (!extracted.count(l.target)) {
                waiting.push_back(l);
                continue;
            }
            unique_fd from_dir = open_in_root(root_fd, parent_of(l.target), O_PATH | O_DIRECTORY | O_NOFOLLOW);
            struct stat st;
            if (::fstatat(from_dir.get(), base_of(l.target).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
                throw Error("read " + what + ": entry \"" + l.path + "\" links to \"" + l.target +
                            "\", which is not a regular file");
            unique_fd to_dir = mkdirs_in_root(root_fd, parent_of(l.path));
            const std::string to = base_of(l.path);
            if (::unlinkat(to_dir.get(), to.c_str(), 0) != 0 && errno != ENOENT)  // a later entry replaces it
                throw_errno("unlink", l.path);
            if (::linkat(from_dir.get(), base_of(l.target).c_str(), to_dir.get(), to.c_str(), 0) != 0)
                throw_errno("link " + l.target + " to", l.path);
            extracted.insert(l.path);
        }
        if (waiting.size() == links.size())
            throw Error("read " + what + ": entry \"" + waiting.front().path + "\" links to \"" + waiting.front().target +
                        "\", which is not a file in the archive");
        links = std::move(waiting);
    }
}

}  // namespace

void extract_plain_files(int in_fd, const fs::path& dest, const std::string& what) {
    ArchiveReader reader;
    struct archive* a = reader.a;
    archive_read_support_format_tar(a);
    CountingInput in{in_fd};
    if (archive_read_open(a, &in, nullptr, &CountingInput::read_cb, nullptr) != ARCHIVE_OK)
        throw Error("read " + what + ": " + archive_error_string(a));
    unique_fd root = open_or_throw(dest, O_PATH | O_DIRECTORY);
    ExpansionGuard guard(expansion_limits_from_env());
    std::vector<PendingLink> links;
    std::set<std::string> extracted;  // the files of an image archive: a few per layer
    archive_entry* e;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char* raw_c = archive_entry_pathname(e);
        std::string raw = raw_c ? raw_c : "";
        auto type = archive_entry_filetype(e);
        if (type == AE_IFDIR) continue;
        std::string name = clean_relative(raw);
        if (name.empty()) throw Error("read " + what + ": entry \"" + raw + "\" has an unsafe path");
        // podman save and docker save write <id>/layer.tar as a symlink to the layer file
        // that manifest.json names (or the other way round): links are kept, as hard links.
        bool is_link = archive_entry_hardlink(e) != nullptr || type == AE_IFLNK;
        if (is_link) {
            std::string target = link_target(e, name);
            if (target.empty() || target == name)
                throw Error("read " + what + ": entry \"" + raw + "\" links outside the archive or to itself");
            links.push_back({name, target});
            continue;
        }
        if (type != AE_IFREG) throw Error("read " + what + ": entry \"" + raw + "\" is not a regular file, directory or link");
        unique_fd dir = mkdirs_in_root(root.get(), parent_of(name));
        copy_entry_data(a, dir.get(), base_of(name), name, e, what, guard, in);
        extracted.insert(name);
    }
    if (rc != ARCHIVE_EOF) throw Error("read " + what + ": " + archive_error_string(a));
    make_pending_links(std::move(links), root.get(), extracted, what);
}

}  // namespace imgbuild::oci

namespace imgbuild::oci {

void decompress_stream(int in_fd, const std::function<void(const char*, size_t)>& sink, const std::string& what) {
    ArchiveReader reader;
    struct archive* a = reader.a;
    archive_read_support_format_raw(a);
    archive_read_support_format_empty(a);
    if (archive_read_open_fd(a, in_fd, 1 << 20) != ARCHIVE_OK) throw Error("read " + what + ": " + archive_error_string(a));
    archive_entry* e;
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) return;
    if (rc != ARCHIVE_OK) throw Error("read " + what + ": " + archive_error_string(a));
    std::vector<char> buf(1 << 20);
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
        if (n < 0) throw Error("read " + what + ": " + archive_error_string(a));
        if (n == 0) break;
        sink(buf.data(), static_cast<size_t>(n));
    }
}

void decompress_stream(int in_fd, int out_fd, const std::string& what) {
    decompress_stream(in_fd, [&](const char* p, size_t n) { write_all(out_fd, std::string_view(p, n), what); }, what);
}

}  // namespace imgbuild::oci
