#include "oci/parallel_gzip.h"

#include <sched.h>

#include <algorithm>

#include "oci/gzip_member.h"

namespace imgbuild::oci {

unsigned compression_threads() {
    cpu_set_t set;
    CPU_ZERO(&set);
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return static_cast<unsigned>(std::clamp(n, 1, 8));
}

ParallelGzip::ParallelGzip(std::function<void(const char*, size_t)> emit)
    : emit_(std::move(emit)), workers_wanted_(compression_threads()) {
    block_.reserve(kGzipBlockSize);
}

ParallelGzip::~ParallelGzip() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    todo_ready_.notify_all();
    for (auto& t : workers_) t.join();
}

void ParallelGzip::write(const char* p, size_t n) {
    while (n > 0) {
        size_t k = std::min(n, kGzipBlockSize - block_.size());
        block_.append(p, k);
        p += k;
        n -= k;
        if (block_.size() == kGzipBlockSize) submit();
    }
}

void ParallelGzip::encode_here(Job& job) {
    if (!here_) here_ = std::make_unique<GzipMemberEncoder>();
    job.out_size = here_->encode(job.in, job.out);
    job.done = true;
}

void ParallelGzip::work() {
    std::unique_ptr<GzipMemberEncoder> encoder;
    std::exception_ptr setup_error;
    try {
        encoder = std::make_unique<GzipMemberEncoder>();
    } catch (...) {
        setup_error = std::current_exception();
    }
    std::unique_lock lock(mu_);
    for (;;) {
        todo_ready_.wait(lock, [this] { return stopping_ || !todo_.empty(); });
        if (stopping_) return;
        Job* job = todo_.front();
        todo_.pop_front();
        lock.unlock();
        try {
            if (setup_error) std::rethrow_exception(setup_error);
            job->out_size = encoder->encode(job->in, job->out);
        } catch (...) {
            job->error = std::current_exception();
        }
        lock.lock();
        job->done = true;
        job_done_.notify_all();
    }
}

void ParallelGzip::submit() {
    if (in_flight_.size() >= workers_wanted_ + 1) emit_front();
    std::unique_ptr<Job> job;
    if (spare_.empty()) {
        job = std::make_unique<Job>();
    } else {
        job = std::move(spare_.back());
        spare_.pop_back();
    }
    job->in.swap(block_);  // block_ takes the emptied buffer of a spare job, its capacity kept
    job->done = false;
    job->error = nullptr;
    block_.clear();
    block_.reserve(kGzipBlockSize);
    any_ = true;
    // The only block (finish() with nothing in flight) or one CPU: no thread to hand it to.
    bool only_block = in_flight_.empty() && workers_.empty() && job->in.size() < kGzipBlockSize;
    if (workers_wanted_ <= 1 || only_block) {
        encode_here(*job);
        std::lock_guard lock(mu_);
        in_flight_.push_back(std::move(job));
        return;
    }
    if (workers_.empty())
        for (unsigned i = 0; i < workers_wanted_; ++i) workers_.emplace_back([this] { work(); });
    Job* queued = job.get();
    {
        std::lock_guard lock(mu_);
        in_flight_.push_back(std::move(job));
        todo_.push_back(queued);
    }
    todo_ready_.notify_one();
}

void ParallelGzip::emit_front() {
    std::unique_ptr<Job> job;
    {
        std::unique_lock lock(mu_);
        job_done_.wait(lock, [this] { return in_flight_.front()->done; });
        job = std::move(in_flight_.front());
        in_flight_.pop_front();
    }
    if (job->error) std::rethrow_exception(job->error);
    emit_(job->out.data(), job->out_size);
    job->in.clear();
    spare_.push_back(std::move(job));
}

void ParallelGzip::finish() {
    if (!block_.empty() || !any_) submit();
    while (!in_flight_.empty()) emit_front();
}

}  // namespace imgbuild::oci
