#pragma once
// Runs a cleanup when the scope ends, unless dismissed (the "commit" of a transaction).
#include <utility>

namespace imgbuild {

template <typename F>
class scope_exit {
public:
    explicit scope_exit(F f) : f_(std::move(f)) {}
    scope_exit(const scope_exit&) = delete;
    scope_exit& operator=(const scope_exit&) = delete;
    ~scope_exit() {
        if (active_) f_();
    }
    void dismiss() { active_ = false; }

private:
    F f_;
    bool active_ = true;
};

}  // namespace imgbuild
