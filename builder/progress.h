#pragma once
// Build progress: plain lines (CI, pipes), a terminal view, JSON events, or nothing (-q).
// Step output is passed through whole, line by line with the step's prefix, never clipped.
// Stages may build in parallel: every view is called from several threads at once, and in a
// multi-stage build names the stage of each step ("[build 2/9] RUN make", "stage": "build").
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "builder/build_options.h"

namespace imgbuild::builder {

class Progress {
public:
    virtual ~Progress() = default;
    virtual void step_start(int step, int total, const std::string& instruction) = 0;
    // cached: the result came from the cache; bytes: size of the layer made (0 for none).
    virtual void step_end(int step, int total, bool cached, double seconds, uint64_t bytes) = 0;
    virtual void cache_miss(int step, const std::string& reason) = 0;
    // A step's upper dir became a layer of `bytes` (tar size) in `seconds`: what a RUN costs
    // beyond its own work. Only the JSON view reports it.
    virtual void layer_committed(int /*step*/, double /*seconds*/, uint64_t /*bytes*/) {}
    virtual void output(int step, int stream, std::string_view data) = 0;
    virtual void message(const std::string& text) = 0;
    virtual void finish(const std::string& image_id) = 0;

    // Steps first..last belong to stage `name`. Called before the build starts (read-only
    // while steps run); a build of one stage names none and keeps today's lines.
    void name_steps(int first, int last, const std::string& name) { stages_[first] = {last, name}; }
    // The stage of `step`, or nullptr.
    [[nodiscard]] const std::string* stage_of(int step) const;
    // "[build 2/9]" (or "[2/9]" with no stage name) and, for output lines, "[build 2]".
    [[nodiscard]] std::string step_tag(int step, int total) const;
    [[nodiscard]] std::string line_tag(int step) const;

private:
    std::map<int, std::pair<int, std::string>> stages_;  // first step -> (last step, stage name)
};

// Picks the view: auto means tty when stdout is a terminal and $CI is unset, plain otherwise.
[[nodiscard]] std::unique_ptr<Progress> make_progress(ProgressMode mode);

}  // namespace imgbuild::builder
