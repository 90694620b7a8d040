#include "oci/tar_archive.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "common/error.h"
#include "common/fs.h"

namespace imgbuild::oci {

namespace fs = std::filesystem;

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
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open_fd(a_, out_fd) != ARCHIVE_OK)
        throw Error("write " + what_ + ": " + archive_error_string(a_));
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
    if (rc != ARCHIVE_OK) throw Error("write " + what_ + ": entry " + name + ": " + archive_error_string(a_));
}

void TarArchiveWriter::add_dir(const std::string& name) { header(name, AE_IFDIR, 0, 0755); }

void TarArchiveWriter::add_bytes(const std::string& name, std::string_view bytes) {
    header(name, AE_IFREG, static_cast<int64_t>(bytes.size()), 0644);
    if (!bytes.empty() && archive_write_data(a_, bytes.data(), bytes.size()) < 0)
        throw Error("write " + what_ + ": entry " + name + ": " + archive_error_string(a_));
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
            throw Error("write " + what_ + ": entry " + name + ": " + archive_error_string(a_));
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
    if (archive_write_close(a_) != ARCHIVE_OK) throw Error("write " + what_ + ": " + archive_error_string(a_));
}

namespace {

bool plain_relative(const std::string& path) {
    if (path.empty() || path[0] == '/') return false;
    for (const auto& part : fs::path(path))
        if (part == "..") return false;
    return true;
}

std::string strip_dot_slash(std::string name) {
    while (name.rfind("./", 0) == 0) name = name.substr(2);
    return name;
}

// A link entry, made once every regular file is out: `path` becomes a hard link to the
// regular file at `target` (both relative to the archive root).
struct PendingLink {
    std::string path, target;
};

// The archive-relative target of a link entry, or "" when it points outside the archive.
// A symlink target is relative to the link's directory; a hardlink target to the root.
std::string link_target(archive_entry* e, const std::string& name) {
    if (const char* hard = archive_entry_hardlink(e)) return strip_dot_slash(hard);
    const char* sym = archive_entry_symlink(e);
    if (!sym || !*sym || sym[0] == '/') return {};
    std::string joined = (fs::path(name).parent_path() / sym).lexically_normal().string();
    return plain_relative(joined) && joined != "." ? joined : std::string();
}

void copy_entry_data(struct archive* a, const fs::path& target, const std::string& name, const std::string& what) {
    make_dirs(target.parent_path());
    auto out = open_or_throw(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    const void* buf;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
        if (::pwrite(out.get(), buf, size, offset) != static_cast<ssize_t>(size)) throw_errno("write", target.string());
    }
    if (r != ARCHIVE_EOF) throw Error("read " + what + ": entry \"" + name + "\": " + archive_error_string(a));
}

// Makes the links whose targets are regular files by now; a link to a link waits for a
// later round. dest holds only regular files and directories that we made (no symlinks),
// so a hard link made here never reaches outside dest.
void make_pending_links(std::vector<PendingLink> links, const fs::path& dest, const std::string& what) {
    while (!links.empty()) {
        std::vector<PendingLink> waiting;
        for (const auto& l : links) {
            fs::path from = dest / l.target, to = dest / l.path;
            struct stat st;
            if (::lstat(from.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
                waiting.push_back(l);
                continue;
            }
            make_dirs(to.parent_path());
            ::unlink(to.c_str());  // a later entry with the same path replaces the earlier one
            if (::link(from.c_str(), to.c_str()) != 0) throw_errno("link " + from.string() + " to", to.string());
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
    if (archive_read_open_fd(a, in_fd, 1 << 20) != ARCHIVE_OK) throw Error("read " + what + ": " + archive_error_string(a));
    std::vector<PendingLink> links;
    archive_entry* e;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        std::string name = strip_dot_slash(archive_entry_pathname(e));
        auto type = archive_entry_filetype(e);
        if (type == AE_IFDIR) continue;
        if (!plain_relative(name)) throw Error("read " + what + ": entry \"" + name + "\" has an unsafe path");
        // podman save and docker save write <id>/layer.tar as a symlink to the layer file
        // that manifest.json names (or the other way round): links are kept, as hard links.
        bool is_link = archive_entry_hardlink(e) != nullptr || type == AE_IFLNK;
        if (is_link) {
            std::string target = link_target(e, name);
            std::string path = fs::path(name).lexically_normal().string();
            if (target.empty() || target == path)
                throw Error("read " + what + ": entry \"" + name + "\" links outside the archive or to itself");
            links.push_back({path, target});
            continue;
        }
        if (type != AE_IFREG) throw Error("read " + what + ": entry \"" + name + "\" is not a regular file, directory or link");
        copy_entry_data(a, dest / fs::path(name).lexically_normal(), name, what);
    }
    if (rc != ARCHIVE_EOF) throw Error("read " + what + ": " + archive_error_string(a));
    make_pending_links(std::move(links), dest, what);
}

}  // namespace imgbuild::oci

namespace imgbuild::oci {

void decompress_stream(int in_fd, int out_fd, const std::string& what) {
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
        write_all(out_fd, std::string_view(buf.data(), static_cast<size_t>(n)), what);
    }
}

}  // namespace imgbuild::oci
