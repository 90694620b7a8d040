// The stage scheduler: dependency order, the --jobs limit, the first failure wins.
#include "builder/stage_scheduler.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace imgbuild::builder;

namespace {

// Records when each stage started and ended (in a global sequence) and how many ran at once.
struct Recorder {
    std::mutex mu;
    std::vector<size_t> started, ended;
    int running = 0, max_running = 0;
    void start(size_t id) {
        std::lock_guard<std::mutex> l(mu);
        started.push_back(id);
        max_running = std::max(max_running, ++running);
    }
    void end(size_t id) {
        std::lock_guard<std::mutex> l(mu);
        ended.push_back(id);
        --running;
    }
    // Position of `id` in `v` (v.size() when absent).
    static size_t pos(const std::vector<size_t>& v, size_t id) {
        return static_cast<size_t>(std::find(v.begin(), v.end(), id) - v.begin());
    }
};

void nap(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Four independent stages 0-3 and a final stage 4 reading from each (the integration shape).
const std::vector<StageTask> kFanIn = {{0, {}}, {1, {}}, {2, {}}, {3, {}}, {4, {0, 1, 2, 3}}};

}  // namespace

TEST_CASE("jobs=1: the list order, in the calling thread") {
    Recorder r;
    const auto caller = std::this_thread::get_id();
    bool same_thread = true;
    run_stages(kFanIn, 1, [&](size_t id, const std::atomic<bool>&) {
        same_thread = same_thread && std::this_thread::get_id() == caller;
        r.start(id);
        r.end(id);
    });
    CHECK(same_thread);
    CHECK(r.started == std::vector<size_t>{0, 1, 2, 3, 4});
    CHECK(r.max_running == 1);
}

TEST_CASE("a stage starts only after every stage it depends on has ended") {
    // 0 <- 1 <- 3, 0 <- 2, {1,2} <- 3; 4 independent (ids are indexes here).
    const std::vector<StageTask> tasks = {{0, {}}, {1, {0}}, {2, {0}}, {3, {1, 2}}, {4, {}}};
    for (unsigned jobs : {1u, 2u, 3u, 8u}) {
        std::mutex mu;
        std::vector<bool> done(tasks.size(), false);
        bool order_ok = true;
        run_stages(tasks, jobs, [&](size_t id, const std::atomic<bool>&) {
            {
                std::lock_guard<std::mutex> l(mu);
                for (size_t d : tasks[id].deps) order_ok = order_ok && done[d];
            }
            nap(10);
            std::lock_guard<std::mutex> l(mu);
            done[id] = true;
        });
        INFO("jobs " << jobs);
        CHECK(order_ok);
        CHECK(std::all_of(done.begin(), done.end(), [](bool b) { return b; }));
    }
}

TEST_CASE("independent stages run at once, never more than jobs of them") {
    for (unsigned jobs : {2u, 3u, 4u}) {
        const int want = static_cast<int>(std::min(jobs, 4u));
        Recorder r;
        run_stages(kFanIn, jobs, [&](size_t id, const std::atomic<bool>&) {
            r.start(id);
            // Wait (bounded, the machine may be loaded) until `want` stages run together.
            for (int i = 0; id != 4 && i < 500; ++i) {
                {
                    std::lock_guard<std::mutex> l(r.mu);
                    if (r.max_running >= want) break;
                }
                nap(10);
            }
            nap(20);
            r.end(id);
        });
        INFO("jobs " << jobs);
        CHECK(r.max_running == want);
        CHECK(r.started.back() == 4);  // the fan-in stage last
    }
}

TEST_CASE("the first failure is rethrown, nothing starts after it, running stages see cancelled") {
    // 0 fails at once; 1 runs long and watches `cancelled`; 2 depends on 0; 3 waits behind the limit.
    const std::vector<StageTask> tasks = {{0, {}}, {1, {}}, {2, {0}}, {3, {}}};
    Recorder r;
    bool saw_cancel = false;
    CHECK_THROWS_WITH_AS(run_stages(tasks, 2,
                                    [&](size_t id, const std::atomic<bool>& cancelled) {
                                        r.start(id);
                                        if (id == 0) {
                                            nap(20);
                                            r.end(id);
                                            throw std::runtime_error("stage 0 broke");
                                        }
                                        if (id == 1) {
                                            for (int i = 0; i < 200 && !cancelled; ++i) nap(5);
                                            saw_cancel = cancelled;
                                            r.end(id);
                                            throw std::runtime_error("stage 1 cancelled");  // a later failure: dropped
                                        }
                                        r.end(id);
                                    }),
                         "stage 0 broke", std::runtime_error);
    CHECK(saw_cancel);
    CHECK(Recorder::pos(r.started, 2) == r.started.size());  // its dependency failed
    CHECK(Recorder::pos(r.started, 3) == r.started.size());  // no start after the failure
}

TEST_CASE("jobs=1: a failure stops the build at that stage") {
    std::vector<size_t> ran;
    CHECK_THROWS_WITH_AS(run_stages(kFanIn, 1,
                                    [&](size_t id, const std::atomic<bool>&) {
                                        ran.push_back(id);
                                        if (id == 1) throw std::runtime_error("one");
                                    }),
                         "one", std::runtime_error);
    CHECK(ran == std::vector<size_t>{0, 1});
}

TEST_CASE("a dependency outside the list and a cycle are refused") {
    auto noop = [](size_t, const std::atomic<bool>&) {};
    CHECK_THROWS_AS(run_stages({{0, {7}}}, 2, noop), std::logic_error);
    CHECK_THROWS_AS(run_stages({{0, {1}}, {1, {0}}}, 1, noop), std::logic_error);
    CHECK_THROWS_AS(run_stages({{0, {1}}, {1, {0}}}, 2, noop), std::logic_error);
}

TEST_CASE("default_jobs is at least 1") { CHECK(default_jobs() >= 1); }
