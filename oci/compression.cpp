#include "oci/compression.h"

#include <array>
#include <string>

#include "common/error.h"

namespace imgbuild::oci {

namespace {
struct CompressionName {
    Compression value;
    std::string_view name;
};
constexpr std::array<CompressionName, 3> kNames{{
    {Compression::none, "none"},
    {Compression::gzip, "gzip"},
    {Compression::zstd, "zstd"},
}};
}  // namespace

std::string_view compression_name(Compression c) {
    for (const auto& n : kNames)
        if (n.value == c) return n.name;
    return "unknown";
}

Compression parse_compression(std::string_view name) {
    for (const auto& n : kNames)
        if (n.name == name) return n.value;
    throw UsageError("unknown compression \"" + std::string(name) + "\": want gzip, zstd or none");
}

}  // namespace imgbuild::oci

// ---- CompressingWriter ----------------------------------------------------------------

#include <zstd.h>

#include <cstring>
#include <vector>

#include "common/fs.h"
#include "oci/layer_tar.h"
#include "oci/parallel_gzip.h"

namespace imgbuild::oci {

namespace {
constexpr size_t kOutBufferSize = 1 << 20;
// Writes at least this big skip the output buffer (uncompressed output only).
constexpr size_t kDirectWriteThreshold = 128 << 10;
constexpr int kZstdLevel = 3;
constexpr int kZstdJobSize = 2 << 20;
}  // namespace

struct CompressingWriter::Impl {
    int fd;
    Compression c;
    Sha256 in_hash;
    Sha256 out_hash;
    uint64_t in_size = 0;
    uint64_t out_size = 0;
    std::unique_ptr<char[]> buf;
    size_t len = 0;
    std::unique_ptr<ParallelGzip> gz;
    ZSTD_CCtx* zc = nullptr;
    bool finished = false;

    Impl(int out_fd, Compression comp) : fd(out_fd), c(comp) {
        if (c != Compression::none || fd >= 0) buf.reset(new char[kOutBufferSize]);
        if (c == Compression::gzip) {
            gz = std::make_unique<ParallelGzip>([this](const char* p, size_t n) { emit(p, n); });
        } else if (c == Compression::zstd) {
            zc = ZSTD_createCCtx();
            if (!zc) throw Error("zstd: cannot create compression context");
            ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, kZstdLevel);
            ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
            // Worker threads: the frame is the same for any number of workers >= 1 (libzstd
            // cuts jobs by size, not by thread), so blobs stay reproducible across machines.
            ZSTD_CCtx_setParameter(zc, ZSTD_c_nbWorkers, static_cast<int>(compression_threads()));
            // Jobs of 2 MiB (libzstd's default at level 3 is 8 MiB): each worker holds its
            // job's input and output, and the default took save past 64 MiB of RSS.
            ZSTD_CCtx_setParameter(zc, ZSTD_c_jobSize, kZstdJobSize);
        }
    }
    ~Impl() {
        gz.reset();
        if (zc) ZSTD_freeCCtx(zc);
    }

    // Compressed (or, uncompressed, final) bytes leaving the writer.
    void emit(const void* data, size_t n) {
        if (c != Compression::none) out_hash.update(data, n);
        out_size += n;
        if (fd >= 0) write_all(fd, std::string_view(static_cast<const char*>(data), n), "layer output");
    }
    void flush() {
        if (len == 0) return;
        emit(buf.get(), len);
        len = 0;
    }

    void write_plain(const char* p, size_t n) {
        if (fd < 0) {
            out_size += n;
            return;
        }
        if (n >= kDirectWriteThreshold) {
            flush();
            emit(p, n);
            return;
        }
        while (n > 0) {
            size_t k = std::min(n, kOutBufferSize - len);
            std::memcpy(buf.get() + len, p, k);
            len += k;
            p += k;
            n -= k;
            if (len == kOutBufferSize) flush();
        }
    }

    void zstd_some(const char* p, size_t n, ZSTD_EndDirective mode) {
        ZSTD_inBuffer in{p, n, 0};
        for (;;) {
            ZSTD_outBuffer out{buf.get() + len, kOutBufferSize - len, 0};
            size_t rc = ZSTD_compressStream2(zc, &out, &in, mode);
            if (ZSTD_isError(rc)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(rc));
            len += out.pos;
            if (len == kOutBufferSize) flush();
            bool done = (mode == ZSTD_e_end) ? rc == 0 : in.pos == in.size;
            if (done) return;
        }
    }
};

CompressingWriter::CompressingWriter(int out_fd, Compression c) : impl_(std::make_unique<Impl>(out_fd, c)) {}
CompressingWriter::~CompressingWriter() = default;

void CompressingWriter::write(const void* data, size_t n) {
    if (n == 0) return;
    Impl& m = *impl_;
    if (m.finished) throw Error("CompressingWriter: write after finish");
    m.in_hash.update(data, n);
    m.in_size += n;
    const char* p = static_cast<const char*>(data);
    switch (m.c) {
        case Compression::none: m.write_plain(p, n); break;
        case Compression::gzip: m.gz->write(p, n); break;
        case Compression::zstd: m.zstd_some(p, n, ZSTD_e_continue); break;
    }
}

LayerDigests CompressingWriter::finish() {
    Impl& m = *impl_;
    if (m.finished) throw Error("CompressingWriter: finish called twice");
    m.finished = true;
    switch (m.c) {
        case Compression::none: break;
        case Compression::gzip: m.gz->finish(); break;
        case Compression::zstd: m.zstd_some("", 0, ZSTD_e_end); break;
    }
    m.flush();
    LayerDigests d;
    d.diff_id = m.in_hash.finish();
    d.tar_size = m.in_size;
    d.blob_digest = m.c == Compression::none ? d.diff_id : m.out_hash.finish();
    d.blob_size = m.out_size;
    return d;
}

}  // namespace imgbuild::oci
