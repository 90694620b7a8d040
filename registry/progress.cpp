#include "registry/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace imgbuild::registry {

namespace {

using Clock = std::chrono::steady_clock;

std::string human(double bytes) {
    static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", bytes, units[u]);
    return buf;
}

enum class Style { plain, tty, json, quiet };

struct Blob {
    std::string action, status;
    uint64_t total = 0, done = 0;
    Clock::time_point started;
    double seconds = 0;
    bool finished = false;
};

class Progress final : public TransferProgress {
public:
    explicit Progress(Style s) : style_(s) {}

    void start(const Digest& d, const std::string& action, uint64_t total) override {
        std::lock_guard<std::mutex> l(mu_);
        if (!blobs_.count(d.hex())) order_.push_back(d.hex());
        Blob& b = blobs_[d.hex()];
        b = Blob{action, "", total, 0, Clock::now(), 0, false};
        if (style_ == Style::json) event(d, "start", b);
        redraw();
    }

    void update(const Digest& d, uint64_t done) override {
        std::lock_guard<std::mutex> l(mu_);
        auto it = blobs_.find(d.hex());
        if (it == blobs_.end()) return;
        it->second.done = done;
        auto now = Clock::now();
        if (now - last_ < std::chrono::milliseconds(style_ == Style::json ? 1000 : 100)) return;
        last_ = now;
        if (style_ == Style::json) event(d, "progress", it->second);
        redraw();
    }

    void finish(const Digest& d, const std::string& status) override {
        std::lock_guard<std::mutex> l(mu_);
        if (!blobs_.count(d.hex())) order_.push_back(d.hex());
        Blob& b = blobs_[d.hex()];
        if (b.started == Clock::time_point()) b.started = Clock::now();
        b.status = status;
        b.finished = true;
        b.seconds = std::chrono::duration<double>(Clock::now() - b.started).count();
        if (b.done < b.total && status != "Already exists" && status.rfind("Mounted", 0) != 0) b.done = b.total;
        if (style_ == Style::json) event(d, "done", b);
        else if (style_ == Style::plain) std::fprintf(stderr, "%s\n", line(d.hex(), b).c_str());
        redraw();
    }

    void summary(const std::string& text, const std::string& digest) override {
        std::lock_guard<std::mutex> l(mu_);
        if (style_ == Style::json) {
            nlohmann::json j = {{"event", "summary"}, {"digest", digest}, {"text", text}};
            std::fprintf(stdout, "%s\n", j.dump().c_str());
        } else if (style_ != Style::quiet) {
            std::fprintf(stdout, "%s\n", text.c_str());
        }
        std::fflush(stdout);
    }

    void message(const std::string& text) override {
        std::lock_guard<std::mutex> l(mu_);
        if (style_ == Style::json) {
            nlohmann::json j = {{"event", "message"}, {"text", text}};
            std::fprintf(stderr, "%s\n", j.dump().c_str());
        } else if (style_ != Style::quiet) {
            std::fprintf(stderr, "%s\n", text.c_str());
            drawn_ = 0;
        }
    }

private:
    static std::string line(const std::string& hex, const Blob& b) {
        std::string s = hex.substr(0, 12) + ": ";
        double secs = b.finished ? b.seconds : std::chrono::duration<double>(Clock::now() - b.started).count();
        if (b.finished && (b.status == "Already exists" || b.status.rfind("Mounted", 0) == 0 || b.status == "Present"))
            return s + b.status;
        s += (b.finished ? b.status : b.action) + " " + human(static_cast<double>(b.done)) + "/" +
             human(static_cast<double>(b.total));
        if (secs > 0.0005) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " in %.2fs (%s/s)", secs, human(static_cast<double>(b.done) / secs).c_str());
            s += buf;
        }
        return s;
    }

    void event(const Digest& d, const char* kind, const Blob& b) {
        nlohmann::json j = {{"event", kind}, {"digest", d.str()}, {"action", b.action}, {"bytes", b.done}, {"total", b.total}};
        if (b.finished) {
            j["status"] = b.status;
            j["seconds"] = b.seconds;
        }
        std::fprintf(stderr, "%s\n", j.dump().c_str());
    }

    // The terminal view: every blob one line, rewritten in place.
    void redraw() {
        if (style_ != Style::tty) return;
        if (drawn_ > 0) std::fprintf(stderr, "\x1b[%dA", drawn_);
        for (const auto& hex : order_) std::fprintf(stderr, "\x1b[2K%s\n", line(hex, blobs_[hex]).c_str());
        drawn_ = static_cast<int>(order_.size());
        std::fflush(stderr);
    }

    Style style_;
    std::mutex mu_;
    std::map<std::string, Blob> blobs_;
    std::vector<std::string> order_;
    Clock::time_point last_;
    int drawn_ = 0;
};

}  // namespace

std::unique_ptr<TransferProgress> make_transfer_progress(const std::string& mode) {
    static const std::pair<const char*, Style> styles[] = {
        {"plain", Style::plain}, {"tty", Style::tty}, {"json", Style::json}, {"quiet", Style::quiet}};
    if (mode == "auto") {
        const char* ci = std::getenv("CI");
        return std::make_unique<Progress>(::isatty(2) && !(ci && *ci) ? Style::tty : Style::plain);
    }
    for (auto [name, style] : styles)
        if (mode == name) return std::make_unique<Progress>(style);
    throw UsageError("--progress: unknown mode \"" + mode + "\" (auto, plain, tty, json, quiet)");
}

}  // namespace imgbuild::registry
