#pragma once
// The layer tar writer's output, handed to a second thread in order. The writer's thread walks
// the tree (stat, open, xattrs, libarchive's headers) and queues the header bytes and, for
// each big regular file, the open file itself; the consumer thread reads the file (holes as
// zeros) into its own buffer and feeds every byte to the sink (the diffID's sha256, the
// compressor, the output file). Reading and hashing stay on one core, so the bytes the kernel
// copies out of the page cache are still in that core's cache when sha256 reads them (read on
// one core and hashed on the other, they cross between the cores: measured slower than one
// thread), and the walk runs on the other core: a big commit takes about the time of
// `sha256sum` of its data.
//
// Small files (< kInlineFileSize) are read by the writer's thread into the queued bytes: a
// layer of a few small files never starts the thread. Bounded memory: at most kMaxQueuedBytes
// of queued bytes and kMaxQueuedFiles open files, plus a 1 MiB read buffer a side. The sink
// runs on one thread at a time, in stream order; an exception it throws (or a read error on
// the consumer) is rethrown by the writer's next call or by finish(), and the rest of the
// stream is then dropped.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/unique_fd.h"

namespace imgbuild::oci {

// Feeds `size` bytes of `fd` from offset 0 to `emit` through `buf` (`buf_size` bytes): data as
// read, and with `may_have_holes` holes (SEEK_HOLE) as zeros without reading them (without,
// three lseeks a file are saved: a hole read is zeros all the same). Throws Error naming
// `shown` when the file is shorter than `size` or a read fails.
void stream_file_data(int fd, uint64_t size, bool may_have_holes, const std::string& shown, char* buf, size_t buf_size,
                      const std::function<void(const char*, size_t)>& emit);

class TarOutputPipe {
public:
    static constexpr uint64_t kInlineFileSize = 64 << 10;
    static constexpr size_t kReadBuffer = 1 << 20;
    static constexpr size_t kMaxQueuedBytes = 4 << 20;
    static constexpr size_t kMaxQueuedFiles = 64;
    using Sink = std::function<void(const char*, size_t)>;

    explicit TarOutputPipe(Sink sink);
    // Without finish(): stops the consumer, dropping what it has not passed on.
    ~TarOutputPipe();
    TarOutputPipe(const TarOutputPipe&) = delete;
    TarOutputPipe& operator=(const TarOutputPipe&) = delete;

    // Stream bytes (tar headers, padding): copied.
    void write(const void* data, size_t n);
    // The data of a regular file, `size` bytes from offset 0, next in the stream.
    void file_data(unique_fd file, uint64_t size, bool may_have_holes, const std::string& shown);
    // Passes on the rest and waits until the sink has had everything; call once.
    void finish();

private:
    struct Segment {
        std::string bytes;  // first the bytes,
        unique_fd file;     // then this file's data, when there is one
        uint64_t file_size = 0;
        bool may_have_holes = true;
        std::string shown;
    };
    void push(Segment s);
    void consume();
    void rethrow_if_failed();

    Sink sink_;
    std::string pending_;  // bytes not yet queued
    std::unique_ptr<char[]> inline_buf_;

    std::mutex mu_;
    std::condition_variable queued_, taken_;
    std::deque<Segment> queue_;
    size_t queued_bytes_ = 0;
    bool closing_ = false;  // nothing more will come: drain and stop
    bool abandon_ = false;  // stop now, passing nothing more on
    std::exception_ptr error_;
    std::thread consumer_;
};

}  // namespace imgbuild::oci
