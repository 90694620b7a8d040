#pragma once
// Shared between stages.cpp (which resolves leniently to find COPY --from targets) and
// resolve.cpp. Not part of the public API.
#include "parser/dockerfile.h"

namespace imgbuild::parser {

// lenient: an instruction that fails to expand is kept unexpanded instead of throwing (at parse
// time the base image's Env is not known yet, so ${X:?} may be satisfied later).
[[nodiscard]] ResolvedStage resolve_stage_impl(const ParseResult& result, size_t stage_index, const Env& image_env,
                                               bool lenient);

}  // namespace imgbuild::parser
