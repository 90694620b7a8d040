#pragma once
// Docker-style generated names ("quirky_turing") for containers created without --name.
#include <cstdint>
#include <string>

namespace imgbuild::layerstore {

// "adjective_surname" from docker's kind of word lists; `salt` picks the words (random).
[[nodiscard]] std::string generated_container_name(uint64_t salt);

}  // namespace imgbuild::layerstore
