#include "builder/cache_explain.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <map>

#include "builder/build_state.h"
#include "builder/run_mounts.h"
#include "builder/url_fetch.h"
#include "common/error.h"
#include "common/fs.h"
#include "oci/image.h"

namespace imgbuild::builder {

namespace fs = std::filesystem;
using nlohmann::json;

Digest StepInputs::key(const Digest& parent_state) const {
    CacheKey k(parent_state);
    for (const auto& in : inputs_) k.add(in.field, in.value);
    return k.finish();
}

bool looks_secret(std::string_view name) {
    // The words of BuildKit's SecretsUsedInArgOrEnv check: such values are not for logs.
    static const char* const words[] = {"apikey", "auth", "credential", "credentials", "key", "password", "pword",
                                        "passwd", "secret", "token"};
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* w : words) {
        for (size_t at = lower.find(w); at != std::string::npos; at = lower.find(w, at + 1)) {
            size_t end = at + std::strlen(w);
            bool starts = at == 0 || !std::isalpha(static_cast<unsigned char>(lower[at - 1]));
            bool ends = end == lower.size() || !std::isalpha(static_cast<unsigned char>(lower[end]));
            if (starts && ends) return true;
        }
    }
    return false;
}

StepInputs step_inputs(StepEnv& env, const parser::ResolvedStep& step, bool with_variables) {
    const parser::Instruction& instr = step.instruction;
    StepInputs in;
    in.add({"instruction", "instruction", instr.original, instr.original, InputDisplay::value, std::nullopt});
    const parser::Env visible = with_variables ? step.visible() : parser::Env();
    for (const auto& [k, v] : visible.entries()) {
        // An ENV of the same name hides the ARG (ENV wins in what the step sees).
        bool is_arg = step.args.contains(k) && !step.env.contains(k);
        bool hidden = looks_secret(k);
        in.add({"var", (is_arg ? "build arg " : "env ") + k, k + "=" + v, hidden ? "" : v,
                hidden ? InputDisplay::name_only : InputDisplay::value, std::nullopt});
    }
    if (const auto* copy = instr.as<parser::Copy>()) {
        std::optional<ContextListing> listing;
        if (copy->from.empty()) listing.emplace(env.store);
        std::string fp = copy_inputs_fingerprint(env, step, listing ? &*listing : nullptr);
        StepInput src{"inputs", copy->from.empty() ? "sources" : "--from=" + copy->from + " content", fp, "",
                      InputDisplay::name_only, std::nullopt};
        if (listing) {
            try {
                src.listing = listing->finish();
            } catch (const Error&) {  // only a hint for explanations
            }
        }
        in.add(std::move(src));
    }
    // RUN --mount: each mount's spec, a from= stage's state, a bind source's content; never a
    // secret's value (run_mounts.h). Shown by name only.
    if (std::string m = mounts_fingerprint(env, step); !m.empty())
        in.add({"mounts", "RUN --mount inputs", m, "", InputDisplay::name_only, std::nullopt});
    return in;
}

// ---- listings

namespace {

// '\t' and '\n' in a path would break the line format; '%' escapes them.
std::string escape_path(std::string_view p) {
    std::string out;
    for (char c : p) {
        if (c == '%') out += "%25";
        else if (c == '\t') out += "%09";
        else if (c == '\n') out += "%0A";
        else out += c;
    }
    return out;
}

std::string unescape_path(std::string_view p) {
    std::string out;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '%' && i + 2 < p.size()) {
            std::string_view code = p.substr(i + 1, 2);
            char c = code == "25" ? '%' : code == "09" ? '\t' : code == "0A" ? '\n' : 0;
            if (c) {
                out += c;
                i += 2;
                continue;
            }
        }
        out += p[i];
    }
    return out;
}

fs::path listing_dir(const layerstore::Store& store) { return store.root() / "cache" / "explain" / "files"; }

// The order in which content_digest walks a tree: by path component, each in byte order
// (a dir before what is below it). Negative, zero or positive as strcmp.
int walk_order(std::string_view a, std::string_view b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        size_t ea = a.find('/', i), eb = b.find('/', j);
        if (ea == std::string_view::npos) ea = a.size();
        if (eb == std::string_view::npos) eb = b.size();
        int c = a.substr(i, ea - i).compare(b.substr(j, eb - j));
        if (c != 0) return c;
        i = ea + 1;
        j = eb + 1;
    }
    bool a_done = i >= a.size(), b_done = j >= b.size();
    return a_done == b_done ? 0 : a_done ? -1 : 1;
}

// Reads a listing line by line, checking that the paths ascend in walk order.
class ListingReader {
public:
    explicit ListingReader(const fs::path& p) : fd_(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {}
    [[nodiscard]] bool ok() const { return static_cast<bool>(fd_) && ordered_; }
    // False at the end (or on disorder: then ok() is false).
    bool next() {
        std::string line;
        if (!read_line(line)) return false;
        auto tab = line.rfind('\t');
        if (tab == std::string::npos) return ordered_ = false;
        std::string path = unescape_path(std::string_view(line).substr(0, tab));
        if (have_ && walk_order(path_, path) >= 0) return ordered_ = false;
        path_ = std::move(path);
        digest_ = line.substr(tab + 1);
        have_ = true;
        return true;
    }
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] const std::string& digest() const { return digest_; }

private:
    bool read_line(std::string& line) {
        for (;;) {
            auto nl = buf_.find('\n', pos_);
            if (nl != std::string::npos) {
                line = buf_.substr(pos_, nl - pos_);
                pos_ = nl + 1;
                return true;
            }
            buf_.erase(0, pos_);
            pos_ = 0;
            char chunk[16384];
            ssize_t n = fd_ ? ::read(fd_.get(), chunk, sizeof chunk) : 0;
            if (n <= 0) return false;
            buf_.append(chunk, static_cast<size_t>(n));
        }
    }
    unique_fd fd_;
    std::string buf_;
    size_t pos_ = 0;
    std::string path_, digest_;
    bool have_ = false, ordered_ = true;
};

}  // namespace

ContextListing::ContextListing(const layerstore::Store& store) : dir_(listing_dir(store)) {
    make_dirs(dir_);
    tmp_ = store.tmp_dir() / ("listing-" + random_hex(8));
    fd_ = open_or_throw(tmp_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
}

ContextListing::~ContextListing() {
    if (fd_) ::unlink(tmp_.c_str());
}

void ContextListing::add(std::string_view path, std::string_view record) {
    buf_ += escape_path(path);
    buf_ += '\t';
    buf_ += Digest::of(record).hex();
    buf_ += '\n';
    if (buf_.size() >= 65536) flush();
}

void ContextListing::flush() {
    hash_.update(buf_);
    write_all(fd_.get(), buf_, tmp_);
    buf_.clear();
}

Digest ContextListing::finish() {
    flush();
    Digest d = hash_.finish();
    fd_.reset();
    fs::path dest = dir_ / d.hex();
    if (::access(dest.c_str(), F_OK) == 0) {
        ::unlink(tmp_.c_str());
        return d;
    }
    // A prune running meanwhile removes cache/explain (layerstore/gc.cpp) between our mkdir
    // and the rename: make the dirs again and retry, a few times.
    for (int attempt = 0;; ++attempt) {
        make_dirs(dir_);
        if (::rename(tmp_.c_str(), dest.c_str()) == 0) return d;
        if (errno != ENOENT || attempt == 3) throw_errno("rename " + tmp_.string() + " to", dest.string());
    }
}

std::optional<std::vector<std::string>> listing_changes(const fs::path& before, const fs::path& after, size_t limit) {
    ListingReader a(before), b(after);
    if (!a.ok() || !b.ok()) return std::nullopt;
    std::vector<std::string> out;
    size_t more = 0;
    auto note = [&](std::string text) {
        if (out.size() < limit) out.push_back(std::move(text));
        else ++more;
    };
    bool has_a = a.next(), has_b = b.next();
    while (has_a || has_b) {
        int c = !has_a ? 1 : !has_b ? -1 : walk_order(a.path(), b.path());
        if (c < 0) {
            note(a.path() + " removed");
            has_a = a.next();
        } else if (c > 0) {
            note(b.path() + " added");
            has_b = b.next();
        } else {
            if (a.digest() != b.digest()) note(a.path() + " changed");
            has_a = a.next();
            has_b = b.next();
        }
    }
    if (!a.ok() || !b.ok()) return std::nullopt;
    if (more) out.push_back("and " + std::to_string(more) + " more");
    return out;
}

// ---- stage records

std::string stage_identity(const std::string& dockerfile_path, const parser::Stage& stage, size_t index,
                           const std::optional<std::string>& target) {
    return dockerfile_path + "\n" + (stage.name.empty() ? "#" + std::to_string(index) : stage.name) + "\n" +
           target.value_or("");
}

StageCacheLog::StageCacheLog(const layerstore::Store& store, std::string identity, std::string stage_name,
                             std::string base)
    : store_(store), identity_(std::move(identity)), stage_name_(std::move(stage_name)), base_(std::move(base)) {
    record_path_ = store.root() / "cache" / "explain" / (Digest::of(identity_).hex() + ".json");
    try {
        previous_ = json::parse(read_file(record_path_));
        if (!previous_.is_object() || previous_.value("identity", "") != identity_ || !previous_["steps"].is_array())
            previous_ = nullptr;
    } catch (const std::exception&) {  // none yet, or damaged: a hint only
        previous_ = nullptr;
    }
}

namespace {

std::string quoted(const std::string& v) {
    if (v.empty()) return "\"\"";
    return v.find_first_of(" \t\n\"") == std::string::npos ? v : json(v).dump();
}

// One input of the record, as it is saved: the value only where it may be shown.
json input_record(const StepInput& in) {
    json j = {{"field", in.field}, {"name", in.name}, {"digest", Digest::of(in.value).str()}};
    if (in.display == InputDisplay::value) j["value"] = in.shown;
    if (in.listing) j["listing"] = in.listing->str();
    return j;
}

}  // namespace

std::string StageCacheLog::parent_reason(size_t index) const {
    const json& prev = previous_["steps"];
    // The nearest earlier step whose key is not what it was: its result is the new parent.
    for (size_t j = index; j-- > 0;) {
        const StepOutcome& o = steps_[j];
        if (j < prev.size() && prev[j].value("key", "") == o.key.str()) continue;
        return "parent changed (step " + std::to_string(o.step) + (o.cached ? " changed" : " missed") + ")";
    }
    return "base changed (" + base_ + ")";
}

std::string StageCacheLog::explain_miss(const parser::Instruction& instr, const StepInputs& inputs, const Digest& parent,
                                        const Digest& key, bool no_cache) const {
    try {
        return compare_with_last_build(instr, inputs, parent, key, no_cache);
    } catch (const std::exception&) {  // a record in a shape we do not know: a hint lost, not an error
        return "the record of the last build of this stage is unreadable";
    }
}

std::string StageCacheLog::compare_with_last_build(const parser::Instruction& instr, const StepInputs& inputs,
                                                   const Digest& parent, const Digest& key, bool no_cache) const {
    if (no_cache) return "--no-cache";
    if (previous_.is_null()) return "first build of this stage";
    size_t index = steps_.size();
    const json& prev_steps = previous_["steps"];
    if (index >= prev_steps.size()) return "new step (the last build of this stage had " + std::to_string(prev_steps.size()) + ")";
    const json& prev = prev_steps[index];
    if (prev.value("key", "") == key.str()) return "same inputs as the last build, but its cache entry or layers are gone (pruned?)";
    if (prev.value("instruction", "") != instr.original) return "instruction changed";

    std::vector<std::string> parts;
    std::map<std::string, const json*> before;
    static const json no_inputs = json::array();
    const json& prev_inputs = prev.contains("inputs") && prev["inputs"].is_array() ? prev["inputs"] : no_inputs;
    for (const auto& p : prev_inputs)
        if (p.is_object()) before[p.value("field", "") + "\n" + p.value("name", "")] = &p;
    for (const auto& in : inputs.list()) {
        auto it = before.find(in.field + "\n" + in.name);
        if (it == before.end()) {
            parts.push_back(in.name + (in.display == InputDisplay::value ? " set to " + quoted(in.shown) : " added"));
            continue;
        }
        const json& p = *it->second;
        before.erase(it);
        if (p.value("digest", "") == Digest::of(in.value).str()) continue;
        if (in.display == InputDisplay::value && p.contains("value")) {
            parts.push_back(in.name + " changed " + quoted(p.value("value", "")) + " -> " + quoted(in.shown));
            continue;
        }
        std::optional<std::vector<std::string>> files;
        if (in.listing && p.contains("listing"))
            if (auto was = Digest::try_parse(p.value("listing", "")))
                files = listing_changes(listing_dir(store_) / was->hex(), listing_dir(store_) / in.listing->hex(), 5);
        if (files && !files->empty()) parts.insert(parts.end(), files->begin(), files->end());
        else parts.push_back(in.name + " changed");
    }
    for (const auto& [k, p] : before) parts.push_back(p->value("name", "") + " removed");
    if (prev.value("parent", "") != parent.str()) parts.push_back(parent_reason(index));
    if (parts.empty()) return "inputs changed";
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out;
}

void StageCacheLog::save() const {
    json steps = json::array();
    for (const auto& o : steps_) {
        json inputs = json::array();
        for (const auto& in : o.inputs) inputs.push_back(input_record(in));
        steps.push_back({{"step", o.step}, {"instruction", o.instruction}, {"parent", o.parent.str()}, {"key", o.key.str()},
                         {"inputs", inputs}});
    }
    json rec = {{"identity", identity_}, {"base", base_}, {"steps", steps}};
    try {
        make_dirs(record_path_.parent_path());
        atomic_write_file(record_path_, rec.dump(), store_.tmp_dir(), Durability::relaxed);
    } catch (const Error&) {  // a lost record costs an explanation, nothing else
    }
}

}  // namespace imgbuild::builder
