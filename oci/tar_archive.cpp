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

void TarArchiveWriter::add_file(const std::string& name, const fs::path& source) {
    auto fd = open_or_throw(source, O_RDONLY);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat", source.string());
    header(name, AE_IFREG, st.st_size, 0644);
    std::vector<char> buf(1 << 20);
    int64_t left = st.st_size;
    while (left > 0) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) throw_errno("read", source.string());
        if (n == 0) throw Error("read " + source.string() + ": file shrank while being archived");
        if (n > left) n = static_cast<ssize_t>(left);
        if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0)
            throw Error("write " + what_ + ": entry " + name + ": " + archive_error_string(a_));
        left -= n;
    }
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
        if (part == ".." ) return false;
    return true;
}

}  // namespace

void extract_plain_files(int in_fd, const fs::path& dest, const std::string& what) {
    struct archive* a = archive_read_new();
    struct Free {
        struct archive* a;
        ~Free() { archive_read_free(a); }
    } guard{a};
    // Only in-process decompressors: never archive_read_support_filter_all (external programs).
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_fd(a, in_fd, 1 << 20) != ARCHIVE_OK) throw Error("read " + what + ": " + archive_error_string(a));
    archive_entry* e;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        std::string name = archive_entry_pathname(e);
        while (name.rfind("./", 0) == 0) name = name.substr(2);
        auto type = archive_entry_filetype(e);
        if (type == AE_IFDIR) continue;
        if (type != AE_IFREG) throw Error("read " + what + ": entry \"" + name + "\" is not a regular file or directory");
        if (!plain_relative(name)) throw Error("read " + what + ": entry \"" + name + "\" has an unsafe path");
        fs::path target = dest / fs::path(name).lexically_normal();
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
    if (rc != ARCHIVE_EOF) throw Error("read " + what + ": " + archive_error_string(a));
}

}  // namespace imgbuild::oci

namespace imgbuild::oci {

void decompress_stream(int in_fd, int out_fd, const std::string& what) {
    struct archive* a = archive_read_new();
    struct Free {
        struct archive* a;
        ~Free() { archive_read_free(a); }
    } guard{a};
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_zstd(a);
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
