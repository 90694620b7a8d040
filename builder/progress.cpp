#include "builder/progress.h"

#include <unistd.h>

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
        case ProgressMode::tty: return std::make_unique<PlainProgress>(true);
        default: return std::make_unique<PlainProgress>(false);
    }
}

}  // namespace imgbuild::builder
