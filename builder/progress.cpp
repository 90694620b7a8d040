#include "builder/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <cstdio>
#include <cstdlib>
#include <map>

#include <nlohmann/json.hpp>

namespace imgbuild::builder {

namespace {

// Splits streamed output into lines per step and stream, so that a prefix starts every line
// even when the command writes a line in several pieces.
class LineSplitter {
public:
    template <typename Emit>
    void feed(int step, int stream, std::string_view data, Emit emit) {
        std::string& pending = pending_[{step, stream}];
        pending.append(data);
        size_t start = 0, nl;
        while ((nl = pending.find('\n', start)) != std::string::npos) {
            emit(std::string_view(pending).substr(start, nl - start));
            start = nl + 1;
        }
        pending.erase(0, start);
    }
    template <typename Emit>
    void flush(int step, Emit emit) {
        for (int stream : {1, 2}) {
            auto it = pending_.find({step, stream});
            if (it != pending_.end() && !it->second.empty()) emit(std::string_view(it->second));
            if (it != pending_.end()) pending_.erase(it);
        }
    }

private:
    std::map<std::pair<int, int>, std::string> pending_;
};

class PlainProgress : public Progress {
public:
    explicit PlainProgress(bool colour) : colour_(colour) {}
    void step_start(int step, int total, const std::string& instruction) override {
        std::lock_guard<std::mutex> lock(mu_);
        std::printf("%s%s %s%s\n", colour_ ? "\033[1m" : "", step_tag(step, total).c_str(), instruction.c_str(),
                    colour_ ? "\033[0m" : "");
        std::fflush(stdout);
    }
    void step_end(int step, int total, bool cached, double seconds, uint64_t) override {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.flush(step, [&](std::string_view l) { print_line(step, l); });
        if (cached) std::printf("%s CACHED\n", step_tag(step, total).c_str());
        else std::printf("%s DONE %.2fs\n", step_tag(step, total).c_str(), seconds);
        std::fflush(stdout);
    }
    void cache_miss(int, const std::string&) override {}
    void output(int step, int stream, std::string_view data) override {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.feed(step, stream, data, [&](std::string_view l) { print_line(step, l); });
    }
    void message(const std::string& text) override {
        std::lock_guard<std::mutex> lock(mu_);
        std::printf("%s\n", text.c_str());
        std::fflush(stdout);
    }
    void finish(const std::string& image_id) override {
        std::lock_guard<std::mutex> lock(mu_);
        std::printf("Successfully built %s\n", image_id.c_str());
        std::fflush(stdout);
    }

private:
    void print_line(int step, std::string_view l) {
        std::printf("%s%s | %.*s%s\n", colour_ ? "\033[2m" : "", line_tag(step).c_str(), static_cast<int>(l.size()),
                    l.data(), colour_ ? "\033[0m" : "");
        std::fflush(stdout);
    }
    bool colour_;
    std::mutex mu_;  // whole lines from parallel stages, never interleaved within one
    LineSplitter lines_;
};

// A terminal view: a live status area at the bottom, one line per running step (one per
// stage building in parallel: instruction and elapsed time, redrawn ten times a second),
// the steps' output scrolling above it, and one line per finished step. Writes from the
// redraw thread and the build threads share one mutex.
class TtyProgress : public Progress {
public:
    TtyProgress() : ticker_([this] { tick(); }) {}
    ~TtyProgress() override {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        wake_.notify_all();
        ticker_.join();
    }
    void step_start(int step, int total, const std::string& instruction) override {
        std::lock_guard<std::mutex> lock(mu_);
        clear_status();
        active_[step] = {fit(step_tag(step, total) + " " + first_line(instruction), 12), std::chrono::steady_clock::now()};
        draw_status();
    }
    void step_end(int step, int, bool cached, double seconds, uint64_t) override {
        std::lock_guard<std::mutex> lock(mu_);
        clear_status();
        lines_.flush(step, [&](std::string_view l) { print_output(step, l); });
        std::string label;
        if (auto it = active_.find(step); it != active_.end()) {
            label = it->second.label;
            active_.erase(it);
        }
        char tail[64];
        std::snprintf(tail, sizeof tail, cached ? "  \033[36mCACHED\033[0m" : "  \033[32mDONE %.2fs\033[0m", seconds);
        std::printf("\033[1m%s\033[0m%s\n", label.c_str(), tail);
        draw_status();
    }
    void cache_miss(int, const std::string&) override {}
    void output(int step, int stream, std::string_view data) override {
        std::lock_guard<std::mutex> lock(mu_);
        bool cleared = false;
        lines_.feed(step, stream, data, [&](std::string_view l) {
            if (!cleared) clear_status();
            cleared = true;
            print_output(step, l);
        });
        if (cleared) draw_status();
    }
    void message(const std::string& text) override {
        std::lock_guard<std::mutex> lock(mu_);
        clear_status();
        std::printf("%s\n", text.c_str());
        draw_status();
    }
    void finish(const std::string& image_id) override {
        std::lock_guard<std::mutex> lock(mu_);
        clear_status();
        std::printf("Successfully built %s\n", image_id.c_str());
        std::fflush(stdout);
    }

private:
    struct Active {
        std::string label;  // fitted to the terminal
        std::chrono::steady_clock::time_point started;
    };
    static std::string first_line(const std::string& s) {
        auto nl = s.find('\n');
        return nl == std::string::npos ? s : s.substr(0, nl) + " ...";
    }
    // Cuts `s` so that it and `reserve` more columns fit the terminal.
    static std::string fit(const std::string& s, size_t reserve) {
        struct winsize ws{};
        size_t cols = (::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col) ? ws.ws_col : 80;
        size_t room = cols > reserve + 4 ? cols - reserve : 4;
        return s.size() <= room ? s : s.substr(0, room - 3) + "...";
    }
    void print_output(int step, std::string_view l) {
        const std::string* stage = stage_of(step);
        std::printf("\033[2m  %s%s%.*s\033[0m\n", stage ? stage->c_str() : "", stage ? " | " : "", static_cast<int>(l.size()),
                    l.data());
    }
    // Puts the cursor at the start of the status area and erases it (stdio is flushed first).
    void clear_status() {
        std::fflush(stdout);
        if (drawn_ == 0) return;
        char buf[32];
        int n = drawn_ > 1 ? std::snprintf(buf, sizeof buf, "\r\033[%dA\033[J", drawn_ - 1) : std::snprintf(buf, sizeof buf, "\r\033[J");
        (void)!::write(1, buf, static_cast<size_t>(n));
        drawn_ = 0;
    }
    void draw_status() {
        std::fflush(stdout);
        write_status_area();
    }
    // Runs on the ticker thread too, which may be running while a build thread clones a
    // container (the runtime's clone skips fork handlers): so no allocation and no stdio
    // lock here, only stack buffers and write(2). Redraws the area in place.
    void write_status_area() {
        char buf[8192];
        size_t len = 0;
        auto add = [&](int n) { len = n > 0 ? std::min(len + static_cast<size_t>(n), sizeof buf - 1) : len; };
        if (drawn_ > 1) add(std::snprintf(buf + len, sizeof buf - len, "\033[%dA", drawn_ - 1));
        auto now = std::chrono::steady_clock::now();
        int lines = 0;
        for (const auto& entry : active_) {
            double secs = std::chrono::duration<double>(now - entry.second.started).count();
            add(std::snprintf(buf + len, sizeof buf - len, "%s\r\033[K\033[1m%s\033[0m  %.1fs", lines ? "\n" : "",
                              entry.second.label.c_str(), secs));
            ++lines;
        }
        if (lines < drawn_) add(std::snprintf(buf + len, sizeof buf - len, "\033[J"));
        if (len) (void)!::write(1, buf, len);
        drawn_ = lines;
    }
    void tick() {
        std::unique_lock<std::mutex> lock(mu_);
        while (!stop_) {
            wake_.wait_for(lock, std::chrono::milliseconds(100));
            if (!stop_ && !active_.empty()) write_status_area();
        }
    }

    std::mutex mu_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::map<int, Active> active_;  // running steps, by number
    int drawn_ = 0;                 // status lines on the screen (the cursor ends on the last)
    LineSplitter lines_;
    std::thread ticker_;  // last: starts after every member it reads exists
};

class JsonProgress : public Progress {
public:
    void step_start(int step, int total, const std::string& instruction) override {
        emit(step, {{"event", "step_start"}, {"step", step}, {"total", total}, {"instruction", instruction}});
    }
    void step_end(int step, int total, bool cached, double seconds, uint64_t bytes) override {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.flush(step, [&](std::string_view l) { emit_line(step, 1, l); });
        emit_locked(step, {{"event", cached ? "cache_hit" : "step_end"}, {"step", step}, {"total", total}, {"cached", cached},
                           {"duration_s", seconds}, {"bytes", bytes}});
    }
    void cache_miss(int step, const std::string& reason) override {
        emit(step, {{"event", "cache_miss"}, {"step", step}, {"reason", reason}});
    }
    void layer_committed(int step, double seconds, uint64_t bytes) override {
        emit(step, {{"event", "layer"}, {"step", step}, {"commit_s", seconds}, {"bytes", bytes}});
    }
    void output(int step, int stream, std::string_view data) override {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.feed(step, stream, data, [&](std::string_view l) { emit_line(step, stream, l); });
    }
    void message(const std::string& text) override { emit(0, {{"event", "message"}, {"text", text}}); }
    void finish(const std::string& image_id) override { emit(0, {{"event", "done"}, {"image_id", image_id}}); }

private:
    void emit_line(int step, int stream, std::string_view l) {
        emit_locked(step, {{"event", "output"}, {"step", step}, {"stream", stream == 2 ? "stderr" : "stdout"},
                           {"line", std::string(l)}});
    }
    void emit(int step, nlohmann::json j) {
        std::lock_guard<std::mutex> lock(mu_);
        emit_locked(step, std::move(j));
    }
    // One event per line; "stage" names the step's stage in a multi-stage build.
    void emit_locked(int step, nlohmann::json j) {
        if (const std::string* stage = step ? stage_of(step) : nullptr) j["stage"] = *stage;
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        std::fflush(stdout);
    }
    std::mutex mu_;
    LineSplitter lines_;
};

class QuietProgress : public Progress {
public:
    void step_start(int, int, const std::string&) override {}
    void step_end(int, int, bool, double, uint64_t) override {}
    void cache_miss(int, const std::string&) override {}
    // A failing step's output still matters: it goes to stderr.
    void output(int, int, std::string_view data) override { std::fwrite(data.data(), 1, data.size(), stderr); }
    void message(const std::string&) override {}
    void finish(const std::string& image_id) override { std::printf("%s\n", image_id.c_str()); }
};

}  // namespace

const std::string* Progress::stage_of(int step) const {
    auto it = stages_.upper_bound(step);
    if (it == stages_.begin()) return nullptr;
    --it;
    return step <= it->second.first ? &it->second.second : nullptr;
}

std::string Progress::step_tag(int step, int total) const {
    const std::string* stage = stage_of(step);
    return "[" + (stage ? *stage + " " : std::string()) + std::to_string(step) + "/" + std::to_string(total) + "]";
}

std::string Progress::line_tag(int step) const {
    const std::string* stage = stage_of(step);
    return "[" + (stage ? *stage + " " : std::string()) + std::to_string(step) + "]";
}

std::unique_ptr<Progress> make_progress(ProgressMode mode) {
    if (mode == ProgressMode::auto_) {
        const char* ci = std::getenv("CI");
        mode = (::isatty(1) && !(ci && *ci)) ? ProgressMode::tty : ProgressMode::plain;
    }
    switch (mode) {
        case ProgressMode::json: return std::make_unique<JsonProgress>();
        case ProgressMode::quiet: return std::make_unique<QuietProgress>();
        case ProgressMode::tty: return std::make_unique<TtyProgress>();
        default: return std::make_unique<PlainProgress>(false);
    }
}

}  // namespace imgbuild::builder
