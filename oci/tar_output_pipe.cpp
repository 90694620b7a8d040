#include "oci/tar_output_pipe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace imgbuild::oci {

namespace {
void read_exactly(int fd, uint64_t left, const std::string& shown, char* buf, size_t buf_size,
                  const std::function<void(const char*, size_t)>& emit) {
    while (left > 0) {
        ssize_t n = ::read(fd, buf, std::min<uint64_t>(left, buf_size));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", shown);
        }
        if (n == 0) throw Error("write layer tar: " + shown + " shrank while being archived");
        emit(buf, static_cast<size_t>(n));
        left -= static_cast<uint64_t>(n);
    }
}
}  // namespace

void stream_file_data(int fd, uint64_t size, bool may_have_holes, const std::string& shown, char* buf, size_t buf_size,
                      const std::function<void(const char*, size_t)>& emit) {
    if (size > buf_size) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (!may_have_holes) {
        read_exactly(fd, size, shown, buf, buf_size, emit);
        return;
    }
    // Holes are fed as zeros from memory, not read: a sparse 4 GiB file costs its data plus
    // hashing, not 4 GiB of read() calls.
    const off_t end = static_cast<off_t>(size);
    off_t pos = 0;
    while (pos < end) {
        off_t data = ::lseek(fd, pos, SEEK_DATA);
        if (data < 0 && errno == ENXIO) {  // a hole up to the end, or the file is shorter now
            struct stat st;
            if (::fstat(fd, &st) == 0 && st.st_size < end) throw Error("write layer tar: " + shown + " shrank while being archived");
            data = end;
        } else if (data < 0) {
            data = pos;  // no SEEK_DATA: all data
        }
        if (data > end) data = end;
        if (data > pos) std::memset(buf, 0, std::min<uint64_t>(static_cast<uint64_t>(data - pos), buf_size));
        for (uint64_t zeros = static_cast<uint64_t>(data - pos); zeros > 0;) {
            size_t k = static_cast<size_t>(std::min<uint64_t>(zeros, buf_size));
            emit(buf, k);
            zeros -= k;
        }
        pos = data;
        if (pos >= end) break;
        off_t hole = ::lseek(fd, pos, SEEK_HOLE);
        if (hole < 0 || hole > end) hole = end;
        if (::lseek(fd, pos, SEEK_SET) < 0) throw_errno("seek", shown);
        read_exactly(fd, static_cast<uint64_t>(hole - pos), shown, buf, buf_size, emit);
        pos = hole;
    }
}

TarOutputPipe::TarOutputPipe(Sink sink) : sink_(std::move(sink)) {}

TarOutputPipe::~TarOutputPipe() {
    if (!consumer_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mu_);
        abandon_ = true;
    }
    queued_.notify_all();
    consumer_.join();
}

void TarOutputPipe::write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        if (pending_.capacity() < kSegmentBytes) pending_.reserve(kSegmentBytes);
        size_t k = std::min(n, kSegmentBytes - pending_.size());
        pending_.append(p, k);
        p += k;
        n -= k;
        if (pending_.size() == kSegmentBytes) push();
    }
}

void TarOutputPipe::file_data(unique_fd file, uint64_t size, bool may_have_holes, const std::string& shown) {
    if (!read_buf_) read_buf_.reset(new char[kReadBuffer]);
    stream_file_data(file.get(), size, may_have_holes, shown, read_buf_.get(), kReadBuffer,
                     [this](const char* p, size_t n) { write(p, n); });
}

void TarOutputPipe::finish() {
    if (!consumer_.joinable()) {  // the stream never filled a segment: no thread needed
        if (!pending_.empty()) sink_(pending_.data(), pending_.size());
        pending_.clear();
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!pending_.empty()) queue_.push_back(std::exchange(pending_, {}));
        closing_ = true;
    }
    queued_.notify_one();
    consumer_.join();
    rethrow_if_failed();
}

void TarOutputPipe::push() {
    {
        std::unique_lock<std::mutex> lock(mu_);
        taken_.wait(lock, [this] { return queue_.size() < kMaxQueuedSegments; });
        queue_.push_back(std::exchange(pending_, {}));
        // A segment the consumer is done with is filled again: no new 1 MiB allocation (and
        // its page faults) per segment.
        if (!spare_.empty()) {
            pending_ = std::move(spare_.back());
            spare_.pop_back();
        }
    }
    queued_.notify_one();
    if (!consumer_.joinable()) consumer_ = std::thread([this] { consume(); });
    rethrow_if_failed();
}

void TarOutputPipe::rethrow_if_failed() {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) std::rethrow_exception(error_);
}

void TarOutputPipe::consume() {
    for (;;) {
        std::string segment;
        bool failed;
        {
            std::unique_lock<std::mutex> lock(mu_);
            queued_.wait(lock, [this] { return abandon_ || closing_ || !queue_.empty(); });
            if (abandon_ || queue_.empty()) return;
            segment = std::move(queue_.front());
            queue_.pop_front();
            failed = error_ != nullptr;
        }
        if (!failed) {
            try {
                sink_(segment.data(), segment.size());
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu_);
                error_ = std::current_exception();
            }
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            segment.clear();
            if (spare_.size() < kMaxQueuedSegments) spare_.push_back(std::move(segment));
        }
        taken_.notify_one();
    }
}

}  // namespace imgbuild::oci
