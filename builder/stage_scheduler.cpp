#include "builder/stage_scheduler.h"

#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace imgbuild::builder {

namespace {

enum class TaskState { waiting, running, done };

class Scheduler {
public:
    Scheduler(const std::vector<StageTask>& tasks, unsigned jobs, const BuildStageFn& build)
        : tasks_(tasks), jobs_(std::max(1u, jobs)), build_(build), state_(tasks.size(), TaskState::waiting) {
        for (size_t i = 0; i < tasks_.size(); ++i) position_[tasks_[i].id] = i;
        for (const auto& t : tasks_)
            for (size_t d : t.deps)
                if (!position_.count(d))
                    throw std::logic_error("stage " + std::to_string(t.id) + " depends on stage " + std::to_string(d) +
                                           ", which is not part of the build");
    }

    void run() {
        if (jobs_ == 1) run_inline();
        else run_threads();
        if (first_error_) std::rethrow_exception(first_error_);
    }

private:
    // The first waiting task whose dependencies are all done, or npos.
    size_t next_ready() const {
        for (size_t i = 0; i < tasks_.size(); ++i) {
            if (state_[i] != TaskState::waiting) continue;
            bool ready = std::all_of(tasks_[i].deps.begin(), tasks_[i].deps.end(),
                                     [&](size_t d) { return state_[position_.at(d)] == TaskState::done; });
            if (ready) return i;
        }
        return npos;
    }
    bool all_done() const {
        return std::all_of(state_.begin(), state_.end(), [](TaskState s) { return s == TaskState::done; });
    }
    [[noreturn]] static void cycle() { throw std::logic_error("stage dependencies form a cycle"); }

    void run_one(size_t i) {
        try {
            build_(tasks_[i].id, cancelled_);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!first_error_) first_error_ = std::current_exception();
            cancelled_ = true;
        }
    }

    void run_inline() {
        while (!all_done() && !first_error_) {
            size_t i = next_ready();
            if (i == npos) cycle();
            state_[i] = TaskState::running;
            run_one(i);
            state_[i] = TaskState::done;
        }
    }

    void run_threads() {
        std::vector<std::thread> threads;
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            if (!first_error_) {
                size_t i;
                while (running_ < jobs_ && (i = next_ready()) != npos) {
                    state_[i] = TaskState::running;
                    ++running_;
                    threads.emplace_back([this, i] {
                        run_one(i);
                        std::lock_guard<std::mutex> l(mu_);
                        state_[i] = TaskState::done;
                        --running_;
                        changed_.notify_all();
                    });
                }
            }
            if (running_ == 0) break;
            changed_.wait(lock);
        }
        lock.unlock();
        for (auto& t : threads) t.join();
        if (!first_error_ && !all_done()) cycle();
    }

    static constexpr size_t npos = static_cast<size_t>(-1);
    const std::vector<StageTask>& tasks_;
    const unsigned jobs_;
    const BuildStageFn& build_;
    std::map<size_t, size_t> position_;  // task id -> index in tasks_
    std::vector<TaskState> state_;
    std::mutex mu_;
    std::condition_variable changed_;
    unsigned running_ = 0;
    std::exception_ptr first_error_;
    std::atomic<bool> cancelled_{false};
};

}  // namespace

void run_stages(const std::vector<StageTask>& tasks, unsigned jobs, const BuildStageFn& build) {
    Scheduler(tasks, jobs, build).run();
}

// The cores this process may run on (a cpuset or taskset limits them), as nproc counts.
unsigned default_jobs() {
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace imgbuild::builder
