#pragma once
// The layer tar writer's output, handed to a second thread in order. The writer's thread walks
// the tree (stat, open, xattrs, libarchive's headers) and reads the files' data (holes as
// zeros) into 1 MiB segments; the consumer thread feeds each segment to the sink (the diffID's
// sha256, the compressor, the output file). The sink is the bottleneck of a big commit
// (sha256 of every byte), so it does nothing else: with the reads on the consumer as well
// (until 2026-12-02, to keep the bytes in the hashing core's cache), re-hashing W3's 768 MiB
// layer took 0.87 s; with them on the writer's thread 0.66 s, sha256 alone being 0.58 s.
//
// A stream shorter than one segment (a layer of a few small files) never starts the thread.
// Bounded memory: at most kMaxQueuedSegments queued and as many kept for reuse (~7 MiB in all), plus the
// segment being filled and a 1 MiB read buffer. The sink runs on one thread at a time, in
// stream order; an exception it throws is rethrown by the writer's next call or by finish(),
// and the rest of the stream is then dropped. A read error is thrown by file_data itself.
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
#include <vector>

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
    static constexpr size_t kSegmentBytes = 1 << 20;
    static constexpr size_t kReadBuffer = 1 << 20;
    static constexpr size_t kMaxQueuedSegments = 2;
    using Sink = std::function<void(const char*, size_t)>;

    explicit TarOutputPipe(Sink sink);
    // Without finish(): stops the consumer, dropping what it has not passed on.
    ~TarOutputPipe();
    TarOutputPipe(const TarOutputPipe&) = delete;
    TarOutputPipe& operator=(const TarOutputPipe&) = delete;

    // Stream bytes (tar headers, padding): copied.
    void write(const void* data, size_t n);
    // The data of a regular file, `size` bytes from offset 0, next in the stream: read now.
    void file_data(unique_fd file, uint64_t size, bool may_have_holes, const std::string& shown);
    // Passes on the rest and waits until the sink has had everything; call once.
    void finish();

private:
    void push();  // queues pending_ (waits while the queue is full)
    void consume();
    void rethrow_if_failed();

    Sink sink_;
    std::string pending_;  // the segment being filled
    std::unique_ptr<char[]> read_buf_;

    std::mutex mu_;
    std::condition_variable queued_, taken_;
    std::deque<std::string> queue_;
    std::vector<std::string> spare_;  // emptied segments, their capacity kept
    bool closing_ = false;  // nothing more will come: drain and stop
    bool abandon_ = false;  // stop now, passing nothing more on
    std::exception_ptr error_;
    std::thread consumer_;
};

}  // namespace imgbuild::oci
