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
    pending_.append(static_cast<const char*>(data), n);
    if (pending_.size() >= kMaxQueuedBytes / 4) push(Segment{std::exchange(pending_, {}), unique_fd(), 0, false, {}});
}

void TarOutputPipe::file_data(unique_fd file, uint64_t size, bool may_have_holes, const std::string& shown) {
    if (size < kInlineFileSize) {
        if (!inline_buf_) inline_buf_.reset(new char[kInlineFileSize]);
        stream_file_data(file.get(), size, may_have_holes, shown, inline_buf_.get(), kInlineFileSize,
                         [this](const char* p, size_t n) { write(p, n); });
        return;
    }
    push(Segment{std::exchange(pending_, {}), std::move(file), size, may_have_holes, shown});
}

void TarOutputPipe::finish() {
    if (!consumer_.joinable()) {  // nothing was big enough to hand over: no thread needed
        if (!pending_.empty()) sink_(pending_.data(), pending_.size());
        pending_.clear();
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!pending_.empty()) {
            queued_bytes_ += pending_.size();
            queue_.push_back(Segment{std::exchange(pending_, {}), unique_fd(), 0, false, {}});
        }
        closing_ = true;
    }
    queued_.notify_one();
    consumer_.join();
    rethrow_if_failed();
}

void TarOutputPipe::push(Segment s) {
    {
        std::unique_lock<std::mutex> lock(mu_);
        taken_.wait(lock, [this] { return queue_.size() < kMaxQueuedFiles && queued_bytes_ < kMaxQueuedBytes; });
        queued_bytes_ += s.bytes.size();
        queue_.push_back(std::move(s));
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
    std::unique_ptr<char[]> buf(new char[kReadBuffer]);
    for (;;) {
        Segment s;
        bool failed;
        {
            std::unique_lock<std::mutex> lock(mu_);
            queued_.wait(lock, [this] { return abandon_ || closing_ || !queue_.empty(); });
            if (abandon_ || queue_.empty()) return;
            s = std::move(queue_.front());
            queue_.pop_front();
            failed = error_ != nullptr;
        }
        if (!failed) {
            try {
                if (!s.bytes.empty()) sink_(s.bytes.data(), s.bytes.size());
                if (s.file) stream_file_data(s.file.get(), s.file_size, s.may_have_holes, s.shown, buf.get(), kReadBuffer, sink_);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu_);
                error_ = std::current_exception();
            }
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            queued_bytes_ -= s.bytes.size();
        }
        s.file.reset();
        taken_.notify_one();
    }
}

}  // namespace imgbuild::oci
