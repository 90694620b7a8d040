#pragma once
// Transfer progress for pull and push: one line per blob with its bytes and rate — redrawn
// live on a terminal, printed once when the blob is done otherwise (CI logs) — or JSON events
// (one object a line) with --progress json. Thread-safe: up to four blobs move at once.
// Everything goes to stderr; the summary (digest) goes to stdout.
#include <cstdint>
#include <memory>
#include <string>

#include "common/digest.h"

namespace imgbuild::registry {

class TransferProgress {
public:
    virtual ~TransferProgress() = default;
    // A blob starts moving ("Pulling", "Pushing"); total is its size.
    virtual void start(const Digest& blob, const std::string& action, uint64_t total) = 0;
    // `done` bytes of it have moved so far.
    virtual void update(const Digest& blob, uint64_t done) = 0;
    // It is finished: "Pulled", "Pushed", "Already exists", "Mounted from app".
    virtual void finish(const Digest& blob, const std::string& status) = 0;
    // The closing lines ("v1: digest: sha256:... size: 527"); `digest` for the JSON event.
    virtual void summary(const std::string& text, const std::string& digest) = 0;
    virtual void message(const std::string& text) = 0;
};

// mode: auto (tty on a terminal, plain otherwise), plain, tty, json, quiet.
// Throws UsageError for another mode.
[[nodiscard]] std::unique_ptr<TransferProgress> make_transfer_progress(const std::string& mode);

}  // namespace imgbuild::registry
