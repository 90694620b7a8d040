#pragma once
// Outer archives (save/load): a plain tar of small JSON files and blob files. Not for layer
// contents — those go through layer_tar.h, which knows whiteouts and the in-root rules.
#include <archive.h>

#include "common/digest.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace imgbuild::oci {

// Writes a deterministic tar (fixed owner, mtime 0, mode 0644/0755) to a file descriptor.
class TarArchiveWriter {
public:
    explicit TarArchiveWriter(int out_fd, std::string what_for_errors);
    ~TarArchiveWriter();
    TarArchiveWriter(const TarArchiveWriter&) = delete;
    TarArchiveWriter& operator=(const TarArchiveWriter&) = delete;
    void add_dir(const std::string& name);
    void add_bytes(const std::string& name, std::string_view bytes);
    // Streams the file at `source` in 1 MiB chunks. With `expected`, the bytes are hashed on
    // the way and a mismatch throws (naming `source` as damaged) once they are written: the
    // archive is then unusable, and the caller discards it, but it never passes a damaged
    // blob off as sound.
    void add_file(const std::string& name, const std::filesystem::path& source,
                  const std::optional<Digest>& expected = std::nullopt);
    void close();

private:
    void header(const std::string& name, unsigned type, int64_t size, unsigned mode);
    struct archive* a_;
    std::string what_;
    bool closed_ = false;
};

// Reads an archive (plain, gzip, bzip2, xz or zstd) and copies every regular file whose path
// is a plain relative path into `dest` (which must exist). A symlink or hardlink entry whose
// target is a regular file of the same archive becomes a hard link to it (podman and docker
// save write <id>/layer.tar as a symlink to the shared layer file); no symlink is ever made.
// Paths with "..", absolute paths, links leading out of the archive and devices are refused:
// an image archive has no business containing them.
void extract_plain_files(int in_fd, const std::filesystem::path& dest, const std::string& what_for_errors);

}  // namespace imgbuild::oci

namespace imgbuild::oci {
// Decompresses a blob (gzip, bzip2, xz, zstd or plain) from in_fd to out_fd, streaming.
void decompress_stream(int in_fd, int out_fd, const std::string& what_for_errors);
// The same, handing the plain bytes to `sink` (e.g. a CompressingWriter to recompress).
void decompress_stream(int in_fd, const std::function<void(const char*, size_t)>& sink, const std::string& what_for_errors);
}  // namespace imgbuild::oci
