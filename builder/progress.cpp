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
        std::printf("%s[%d/%d] %s%s\n", colour_ ? "\033[1m" : "", step, total, instruction.c_str(), colour_ ? "\033[0m" : "");
        std::fflush(stdout);
    }
    void step_end(int step, int total, bool cached, double seconds, uint64_t) override {
        lines_.flush(step, [&](std::string_view l) { print_line(step, l); });
        if (cached) std::printf("[%d/%d] CACHED\n", step, total);
        else std::printf("[%d/%d] DONE %.2fs\n", step, total, seconds);
        std::fflush(stdout);
    }
    void cache_miss(int, const std::string&) override {}
    void output(int step, int stream, std::string_view data) override {
        lines_.feed(step, stream, data, [&](std::string_view l) { print_line(step, l); });
    }
    void message(const std::string& text) override {
        std::printf("%s\n", text.c_str());
        std::fflush(stdout);
    }
    void finish(const std::string& image_id) override {
        std::printf("Successfully built %s\n", image_id.c_str());
        std::fflush(stdout);
    }

private:
    void print_line(int step, std::string_view l) {
        std::printf("%s[%d] | %.*s%s\n", colour_ ? "\033[2m" : "", step, static_cast<int>(l.size()), l.data(),
                    colour_ ? "\033[0m" : "");
        std::fflush(stdout);
    }
    bool colour_;
    LineSplitter lines_;
};

// A terminal view: a live status line for the running step (instruction and elapsed time,
// redrawn ten times a second), the step's output scrolling above it, and one line per
// finished step. Writes from the redraw thread and the build thread share one mutex.
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
        label_ = "[" + std::to_string(step) + "/" + std::to_string(total) + "] " + first_line(instruction);
        fitted_label_ = fit(label_, 12);
        started_ = std::chrono::steady_clock::now();
        active_ = true;
        draw_status();
    }
    void step_end(int step, int, bool cached, double seconds, uint64_t) override {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.flush(step, [&](std::string_view l) { print_output(l); });
        active_ = false;
        char tail[64];
        std::snprintf(tail, sizeof tail, cached ? "  \033[36mCACHED\033[0m" : "  \033[32mDONE %.2fs\033[0m", seconds);
        std::printf("\r\033[K\033[1m%s\033[0m%s\n", fitted_label_.c_str(), tail);
        std::fflush(stdout);
    }
    void cache_miss(int, const std::string&) override {}
    void output(int step, int stream, std::string_view data) override {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.feed(step, stream, data, [&](std::string_view l) { print_output(l); });
        draw_status();
    }
    void message(const std::string& text) override {
        std::lock_guard<std::mutex> lock(mu_);
        std::printf("\r\033[K%s\n", text.c_str());
        draw_status();
    }
    void finish(const std::string& image_id) override {
        std::lock_guard<std::mutex> lock(mu_);
        std::printf("\r\033[KSuccessfully built %s\n", image_id.c_str());
        std::fflush(stdout);
    }

private:
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
    void print_output(std::string_view l) {
        std::printf("\r\033[K\033[2m  %.*s\033[0m\n", static_cast<int>(l.size()), l.data());
    }
    void draw_status() {
        std::fflush(stdout);
        if (active_) write_status_line();
    }
    // Runs on the ticker thread too, which may be running while the build thread clones a
    // container (the runtime's clone skips fork handlers): so no allocation and no stdio
    // lock here, only a stack buffer and write(2).
    void write_status_line() {
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        char buf[1024];
        int n = std::snprintf(buf, sizeof buf, "\r\033[K\033[1m%s\033[0m  %.1fs", fitted_label_.c_str(), secs);
        if (n > 0) (void)!::write(1, buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
    }
    void tick() {
        std::unique_lock<std::mutex> lock(mu_);
        while (!stop_) {
            wake_.wait_for(lock, std::chrono::milliseconds(100));
            if (!stop_ && active_) write_status_line();
        }
    }

    std::mutex mu_;
    std::condition_variable wake_;
    bool stop_ = false, active_ = false;
    std::string label_, fitted_label_;
    std::chrono::steady_clock::time_point started_;
    LineSplitter lines_;
    std::thread ticker_;  // last: starts after every member it reads exists
};

class JsonProgress : public Progress {
public:
    void step_start(int step, int total, const std::string& instruction) override {
        emit({{"event", "step_start"}, {"step", step}, {"total", total}, {"instruction", instruction}});
    }
    void step_end(int step, int total, bool cached, double seconds, uint64_t bytes) override {
        lines_.flush(step, [&](std::string_view l) { emit_line(step, 1, l); });
        emit({{"event", cached ? "cache_hit" : "step_end"}, {"step", step}, {"total", total}, {"cached", cached},
              {"duration_s", seconds}, {"bytes", bytes}});
    }
    void cache_miss(int step, const std::string& reason) override {
        emit({{"event", "cache_miss"}, {"step", step}, {"reason", reason}});
    }
    void layer_committed(int step, double seconds, uint64_t bytes) override {
        emit({{"event", "layer"}, {"step", step}, {"commit_s", seconds}, {"bytes", bytes}});
    }
    void output(int step, int stream, std::string_view data) override {
        lines_.feed(step, stream, data, [&](std::string_view l) { emit_line(step, stream, l); });
    }
    void message(const std::string& text) override { emit({{"event", "message"}, {"text", text}}); }
    void finish(const std::string& image_id) override { emit({{"event", "done"}, {"image_id", image_id}}); }

private:
    void emit_line(int step, int stream, std::string_view l) {
        emit({{"event", "output"}, {"step", step}, {"stream", stream == 2 ? "stderr" : "stdout"}, {"line", std::string(l)}});
    }
    static void emit(const nlohmann::json& j) {
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        std::fflush(stdout);
    }
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
