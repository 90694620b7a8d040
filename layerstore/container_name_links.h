#pragma once
// The target of a name link, containers/names/<name> -> <id> (layerstore/containers.h).
//
// Written as the id's 32 bytes in unpadded base64url (43 characters), not its 64 hex digits:
// ext4 keeps a symlink target shorter than 60 bytes in the inode itself, a longer one takes
// a data block, and freeing that block when the name goes (at the end of every `run --rm`)
// cost ~0.1 ms on the critical path (ext4 mounted with `discard` issues the discard then,
// synchronously). Links written by earlier versions (64 hex digits) are still read.
#include <filesystem>
#include <string>
#include <string_view>

namespace imgbuild::layerstore {

// Whether `s` is a container id: 64 lowercase hex digits.
[[nodiscard]] bool is_container_id(std::string_view s);
// `id`: 64 lowercase hex digits (the caller checked).
[[nodiscard]] std::string name_link_target(const std::string& id);
// The id a target names (64 lowercase hex digits), or "" when it names none.
[[nodiscard]] std::string id_of_name_link_target(std::string_view target);
// readlink + id_of_name_link_target: "" when the link is missing, unreadable or names no id.
[[nodiscard]] std::string read_name_link(const std::filesystem::path& link);

}  // namespace imgbuild::layerstore
